// Package demo serves the pages of `bridge --demo`: a LINE-like customer
// pane, a Salesforce-like agent console for the Live Agent simulator, and an
// operator view of the bridge.
package demo

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

// Options are what the demo pages need from the running bridge.
type Options struct {
	Sim           *lasim.Sim      // the embedded Live Agent simulator (mounted at /sim)
	LINE          *linesim.Server // the stand-in LINE platform (mounted at /line-sim)
	ChannelSecret string          // to sign the customer pane's webhook events
	WebhookURL    string          // the bridge's own /line/webhook
	HTTPClient    *http.Client
	Logger        *slog.Logger
}

// Register mounts the demo pages under /demo and their APIs under /demo/api.
func Register(e *echo.Echo, o Options) {
	e.GET("/demo", func(c echo.Context) error {
		return c.String(http.StatusOK, "demo pages: not built yet")
	})
}
