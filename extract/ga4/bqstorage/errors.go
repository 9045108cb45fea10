package bqstorage

import (
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"closedloop/extract"
)

// grpcError explains an error of the Storage Read API about what (a table and the
// call). Access and request errors are extract.ErrConfig errors: retrying cannot help.
// The API's error stays wrapped (status.Code works on the result).
func (c *Client) grpcError(what string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", what, err)
	}
	return c.explain(what, st.Code(), err)
}

// restError explains an error of the BigQuery REST API, as grpcError does.
func (c *Client) restError(what string, err error) error {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return fmt.Errorf("%s: %w", what, err)
	}
	code := codes.Unknown
	switch gerr.Code {
	case http.StatusUnauthorized:
		code = codes.Unauthenticated
	case http.StatusForbidden:
		code = codes.PermissionDenied
	case http.StatusNotFound:
		code = codes.NotFound
	case http.StatusBadRequest:
		code = codes.InvalidArgument
	}
	return c.explain(what, code, err)
}

func (c *Client) explain(what string, code codes.Code, err error) error {
	switch code {
	case codes.PermissionDenied:
		return fmt.Errorf("%w: %s: permission denied: grant the credentials' principal "+
			"roles/bigquery.dataViewer on dataset %s.%s and roles/bigquery.readSessionUser on project %s, "+
			"and enable the BigQuery Storage API in project %s (%w)",
			extract.ErrConfig, what, c.cfg.Project, c.cfg.Dataset, c.cfg.BillingProject, c.cfg.BillingProject, err)
	case codes.Unauthenticated:
		return fmt.Errorf("%w: %s: not authenticated: set GOOGLE_APPLICATION_CREDENTIALS to a "+
			"service-account key file, run `gcloud auth application-default login`, or run where a service "+
			"account is attached (%w)", extract.ErrConfig, what, err)
	case codes.NotFound:
		return fmt.Errorf("%w: %s: not found: check the project (%s) and the dataset (%s; GA4 names it "+
			"analytics_<property id>), and that the GA4 BigQuery link exports to it (%w)",
			extract.ErrConfig, what, c.cfg.Project, c.cfg.Dataset, err)
	case codes.InvalidArgument:
		return fmt.Errorf("%w: %s: request refused: check the columns %q and the row restriction %q (%w)",
			extract.ErrConfig, what, c.cfg.Columns, c.cfg.RowRestriction, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// retryable reports whether a failed ReadRows stream may be reopened at its offset:
// the codes the Go client's own Storage Read iterator retries (bigquery
// storage_iterator.go, retryReadRows), less Canceled, which here means the run was
// cancelled (an idle stream is errIdle), plus ResourceExhausted (quota), which the
// backoff waits out.
func retryable(err error) bool {
	if errors.Is(err, errIdle) {
		return true
	}
	switch status.Code(err) {
	case codes.Aborted, codes.DeadlineExceeded, codes.Internal, codes.Unavailable, codes.ResourceExhausted:
		return true
	}
	return false
}

// errIdle marks a stream closed by us after Config.IdleTimeout without a message.
var errIdle = errors.New("stream idle")
