package line

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

const (
	testToken  = "test-channel-token"
	testSecret = "test-channel-secret"
	testUser   = "U1234567890abcdef1234567890abcdef"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newSim starts a fake LINE Platform for the test.
func newSim(t *testing.T) (*linesim.Server, string) {
	t.Helper()
	sim := linesim.New(testToken)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // runs first: releases hanging requests
	return sim, srv.URL
}

// waitCtx bounds an await; a condition that never holds fails the test.
func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ptr[T any](v T) *T { return &v }
