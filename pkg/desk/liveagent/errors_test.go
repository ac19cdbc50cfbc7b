package liveagent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
)

func TestStatusErrorSentinels(t *testing.T) {
	all := []error{
		liveagent.ErrBadRequest, liveagent.ErrSessionInvalid, liveagent.ErrNotFound, liveagent.ErrMethodNotAllowed,
		liveagent.ErrDuplicatePoll, liveagent.ErrRateLimited, liveagent.ErrServer, liveagent.ErrAffinityChanged,
		liveagent.ErrUpstream, liveagent.ErrUnexpectedStatus,
	}
	for _, tc := range []struct {
		status    int
		want      error
		temporary bool
	}{
		{400, liveagent.ErrBadRequest, false},
		{403, liveagent.ErrSessionInvalid, false},
		{404, liveagent.ErrNotFound, false},
		{405, liveagent.ErrMethodNotAllowed, false},
		{409, liveagent.ErrDuplicatePoll, false},
		{429, liveagent.ErrRateLimited, true},
		{500, liveagent.ErrServer, true},
		{502, liveagent.ErrUpstream, true},
		{503, liveagent.ErrAffinityChanged, false},
		{504, liveagent.ErrUpstream, true},
		{418, liveagent.ErrUnexpectedStatus, false},
	} {
		err := fmt.Errorf("liveagent: chat message: %w", &liveagent.StatusError{Op: "chat message", StatusCode: tc.status, Body: "b"})
		for _, s := range all {
			if got := errors.Is(err, s); got != (s == tc.want) {
				t.Errorf("%d: errors.Is(%v) = %v", tc.status, s, got)
			}
		}
		if got := liveagent.Temporary(err); got != tc.temporary {
			t.Errorf("%d: Temporary = %v, want %v", tc.status, got, tc.temporary)
		}
	}
}

func TestTemporaryTransportErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"timeout", fmt.Errorf("x: %w", liveagent.ErrTimeout), true},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false},
		{"caller deadline", context.DeadlineExceeded, false},
		{"eof", io.ErrUnexpectedEOF, true},
		{"net", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"other", errors.New("boom"), false},
	} {
		if got := liveagent.Temporary(tc.err); got != tc.want {
			t.Errorf("%s: Temporary = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStatusErrorBodyTruncated(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, strings.Repeat("x", 5000))
	}))
	defer srv.Close()
	c := liveagent.NewClient(liveagent.Config{Host: srv.URL}, nil)
	_, err := c.SessionID(context.Background())
	var se *liveagent.StatusError
	if !errors.As(err, &se) || se.StatusCode != 502 || se.Op != "session id" {
		t.Fatalf("err = %v", err)
	}
	if len(se.Body) > 600 || len(se.Body) < 500 {
		t.Errorf("body length %d, want about 512", len(se.Body))
	}
	if !strings.HasPrefix(err.Error(), "liveagent: session id: status 502 Bad Gateway: xxx") {
		t.Errorf("message %q", err.Error()[:60])
	}
}

// TestPerCallDeadline: a hung server yields ErrTimeout (temporary) after RequestTimeout; the
// caller's own cancellation is not temporary.
func TestPerCallDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := liveagent.NewClient(liveagent.Config{Host: srv.URL, RequestTimeout: 50 * time.Millisecond}, nil)
	s := liveagent.Session{ID: "i", Key: "i!1!s", AffinityToken: "aa", ClientPollTimeout: time.Millisecond}

	start := time.Now()
	err := c.ChatMessage(context.Background(), s, 1, "x")
	if !errors.Is(err, liveagent.ErrTimeout) || !liveagent.Temporary(err) {
		t.Fatalf("hung call: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("deadline took %v", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	err = c.ChatMessage(ctx, s, 2, "x")
	if errors.Is(err, liveagent.ErrTimeout) || liveagent.Temporary(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}

	// The poll deadline is derived from ClientPollTimeout (+5s margin), not RequestTimeout.
	start = time.Now()
	pctx, pcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer pcancel()
	_, err = c.Messages(pctx, s, 0)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("poll ended after %v: RequestTimeout must not apply to Messages (%v)", d, err)
	}
}

// TestNoSecretInErrors: a transport error on DELETE SessionId/{key} must not quote the URL.
func TestNoSecretInErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	c := liveagent.NewClient(liveagent.Config{Host: "http://" + addr}, nil)
	s := liveagent.Session{ID: "id", Key: "id!1629334776994!SECRETSIG=", AffinityToken: "aa"}
	err = c.DeleteSession(context.Background(), s)
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "SECRETSIG") || strings.Contains(err.Error(), "1629334776994") {
		t.Errorf("error leaks the session key: %v", err)
	}
	if !liveagent.Temporary(err) {
		t.Errorf("connection refused should be temporary: %v", err)
	}
}

func TestSessionLogValueMasksKey(t *testing.T) {
	s := liveagent.Session{ID: "ec550263", Key: "ec550263-354e!1629334776994!TrfoJ67wmtlYiENsWdaUBu0xZ7M=", AffinityToken: "878a1fa0", ClientPollTimeout: 40 * time.Second}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("poll", "session", s)
	fmt.Fprintf(&buf, "%v %+v %#v %s", s, s, s, s)
	out := buf.String()
	if strings.Contains(out, "TrfoJ67") || strings.Contains(out, "1629334776994") {
		t.Errorf("key leaked: %s", out)
	}
	if !strings.Contains(out, `"id":"ec550263"`) || !strings.Contains(out, "878a1fa0") {
		t.Errorf("log lacks id/affinity: %s", out)
	}
}

func TestHostNormalization(t *testing.T) {
	for _, host := range []string{
		"https://d.la4-c1-ia4.salesforceliveagent.com",
		"https://d.la4-c1-ia4.salesforceliveagent.com/",
		"https://d.la4-c1-ia4.salesforceliveagent.com/chat",
		"https://d.la4-c1-ia4.salesforceliveagent.com/chat/",
		"https://d.la4-c1-ia4.salesforceliveagent.com/chat/rest/",
		"d.la4-c1-ia4.salesforceliveagent.com",
	} {
		var gotURL string
		c := liveagent.NewClient(liveagent.Config{Host: host}, &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			gotURL = r.URL.String()
			return nil, errors.New("stop")
		})})
		_, _ = c.SessionID(context.Background())
		if gotURL != "https://d.la4-c1-ia4.salesforceliveagent.com/chat/rest/System/SessionId" {
			t.Errorf("%q → %s", host, gotURL)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestConfigValidate(t *testing.T) {
	if err := (liveagent.Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "host") || !strings.Contains(err.Error(), "button") {
		t.Errorf("empty config: %v", err)
	}
	if err := (liveagent.Config{Host: "h", OrgID: "o", DeploymentID: "d", ButtonID: "b"}).Validate(); err != nil {
		t.Error(err)
	}
	c := liveagent.NewClient(liveagent.Config{}, nil).Config()
	if c.APIVersion != "49" || c.UserAgent != "Mozilla/5.0" || c.Language != "ja" || c.RequestTimeout != 10*time.Second {
		t.Errorf("defaults %+v", c)
	}
}
