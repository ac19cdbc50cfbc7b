package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// pingEvery is how often an idle stream sends a comment, so proxies and
// browsers keep it open.
const pingEvery = 15 * time.Second

// sseWriter writes one Server-Sent Events stream. The stream belongs to its
// request: handlers return when the request's context ends.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// startSSE sends the stream's headers. It lifts the server's write deadline
// for this response (a stream outlives any WriteTimeout), where the server
// supports that.
func startSSE(w http.ResponseWriter) *sseWriter {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseWriter{w: w, rc: rc}
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	_ = rc.Flush()
	return s
}

// event writes one event of type name with v as JSON data, and flushes.
func (s *sseWriter) event(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.raw(name, b)
}

func (s *sseWriter) raw(name string, data []byte) error {
	// JSON has no raw newlines, but be safe: every line needs its prefix.
	lines := strings.Split(string(data), "\n")
	var b strings.Builder
	b.WriteString("event: " + name + "\n")
	for _, l := range lines {
		b.WriteString("data: " + l + "\n")
	}
	b.WriteString("\n")
	if _, err := fmt.Fprint(s.w, b.String()); err != nil {
		return err
	}
	return s.rc.Flush()
}

// ping writes a comment line.
func (s *sseWriter) ping() error {
	if _, err := fmt.Fprint(s.w, ": ping\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}
