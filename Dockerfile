# closedloop: the nightly job as a container (Cloud Run Job, Kubernetes CronJob, ...).
# DuckDB is linked through cgo, so the build stage needs a C toolchain and the runtime
# needs glibc and libstdc++: distroless "cc" has exactly those, and a non-root user.
# -tags duckdb_arrow: DuckDB ingests the Arrow batches in place (load/duckdb).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=cache,target=/go/pkg/mod \
    CGO_ENABLED=1 go build -trimpath -tags duckdb_arrow -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/closedloop ./cmd/closedloop

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/closedloop /usr/local/bin/closedloop
WORKDIR /home/nonroot
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/closedloop", "run"]
