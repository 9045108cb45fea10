// Package faulttest writes the faults of an unreliable HTTP API from an httptest
// handler, for the fault tests of the clients that package httpretry retries: a
// connection reset in the middle of a body, a body shorter than its Content-Length,
// JSON cut short by a closed connection, an answer that never comes.
package faulttest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// ResetMidBody answers 200 with body's Content-Length, writes the first half of body
// and resets the connection (TCP RST).
func ResetMidBody(w http.ResponseWriter, body []byte) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	buf.Write(body[:len(body)/2])
	buf.Flush()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// CutJSON answers 200 without a Content-Length, writes the first half of body and
// closes the connection: the client reads a whole body whose JSON ends early.
func CutJSON(w http.ResponseWriter, body []byte) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	fmt.Fprint(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
	buf.Write(body[:len(body)/2])
	buf.Flush()
	conn.Close()
}

// Truncate answers 200 with body's Content-Length but writes only its first half;
// net/http then closes the connection.
func Truncate(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body[:len(body)/2])
}

// Hang holds r until the client gives up on it or d passes, and reports whether the
// client gave up.
func Hang(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return true
	case <-t.C:
		return false
	}
}
