// Package demo serves the pages of `bridge --demo`: a LINE-like customer
// pane, a Salesforce-like agent console for the Live Agent simulator, and an
// operator view of the bridge.
//
// Everything is plain HTML, CSS and JavaScript embedded in the binary (no
// build step, no external resources). Routes, all under /demo:
//
//	GET  /demo                               landing page: the customer pane and the agent console side by side
//	GET  /demo/customer                      the LINE-like customer pane
//	GET  /demo/agent/                        the agent console (the simulator's control API at SimPath+"/control")
//	GET  /demo/operator                      the operator view of the bridge
//	GET  /demo/assets/{file}                 stylesheets, scripts, the sample image
//	POST /demo/api/customers                 {"name","language","user"?} → sets the LINE profile, answers {"user","name"}
//	POST /demo/api/customer/{user}/send      {"text"} | {"sticker":{…}} | {"image":true} | {"postback":"…"}:
//	                                         a signed webhook request to the bridge, as LINE sends it
//	GET  /demo/api/customer/{user}/timeline  what the user sent and received (JSON)
//	GET  /demo/api/customer/{user}/stream    the same, live (Server-Sent Events)
//	GET  /demo/api/operator/chats            open and recent chats with their latest events (JSON)
//	GET  /demo/api/operator/stream           the same, live (Server-Sent Events)
//
// [AgentConsole] serves the agent console alone, for cmd/liveagent-sim.
package demo

import (
	"context"
	"embed"
	"encoding/json"
	"html"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

// Operator is what the operator view reads of the bridge; *bridge.Bridge
// implements it.
type Operator interface {
	// Active returns the chats of up to limit active customers.
	Active(ctx context.Context, limit int) ([]bridge.Chat, error)
	// Transcript returns the events of a chat still in the customer's log.
	Transcript(ctx context.Context, c bridge.CustomerID, id bridge.ChatID) ([]bridge.Event, error)
}

// Options are what the demo pages need from the running bridge.
type Options struct {
	Sim           *lasim.Sim      // the embedded Live Agent simulator (mounted at SimPath)
	LINE          *linesim.Server // the stand-in LINE platform (mounted at /line-sim)
	ChannelSecret string          // to sign the customer pane's webhook events
	WebhookURL    string          // the bridge's own /line/webhook
	HTTPClient    *http.Client    // posts the webhook requests (default: 10 s timeout)
	Logger        *slog.Logger

	// Operator feeds the operator view; pass the *bridge.Bridge. Nil: the
	// view says it is off.
	Operator Operator
	// SimPath is where Sim is mounted (default "/sim"); the agent console
	// uses its control API at SimPath + "/control".
	SimPath string
	// OperatorInterval is how often the operator stream looks for changes
	// (default 1 s).
	OperatorInterval time.Duration
}

func (o *Options) defaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SimPath == "" {
		o.SimPath = "/sim"
	}
	o.SimPath = "/" + strings.Trim(o.SimPath, "/")
	if o.OperatorInterval <= 0 {
		o.OperatorInterval = time.Second
	}
}

//go:embed static
var staticFS embed.FS

// static is the content of the static directory.
var static = func() fs.FS {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	return sub
}()

// Register mounts the demo pages under /demo and their APIs under /demo/api.
func Register(e *echo.Echo, o Options) {
	o.defaults()
	cust := newCustomerAPI(o)
	op := newOperatorAPI(o)
	agent := agentConsole(o.SimPath + "/control")

	page := func(name string) echo.HandlerFunc {
		return func(c echo.Context) error {
			serveFile(c.Response(), c.Request(), name)
			return nil
		}
	}
	e.GET("/demo", page("index.html"))
	e.GET("/demo/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/demo") })
	e.GET("/demo/customer", page("customer.html"))
	e.GET("/demo/operator", page("operator.html"))
	e.GET("/demo/agent", func(c echo.Context) error {
		to := "/demo/agent/"
		if q := c.Request().URL.RawQuery; q != "" {
			to += "?" + q
		}
		return c.Redirect(http.StatusFound, to)
	})
	e.GET("/demo/agent/*", echo.WrapHandler(agent))
	e.GET("/demo/assets/:file", func(c echo.Context) error {
		serveAsset(c.Response(), c.Request(), c.Param("file"))
		return nil
	})

	api := e.Group("/demo/api")
	api.POST("/customers", cust.create)
	api.POST("/customer/:user/send", cust.send)
	api.GET("/customer/:user/timeline", cust.timeline)
	api.GET("/customer/:user/stream", cust.stream)
	api.GET("/operator/chats", op.chats)
	api.GET("/operator/stream", op.stream)
}

// AgentConsole serves the agent console page and its assets, for the
// simulator alone (cmd/liveagent-sim). The page finds the control API at
// "../control" relative to its own URL (so mounted at /console/ it uses
// /control), unless its URL has ?api=/some/path (a same-origin path).
//
// Any path ending in assets/{file} is an asset; every other path is the page.
func AgentConsole() http.Handler { return agentConsole("") }

// agentConsole serves the console with the control API at apiBase ("" =
// the page's default).
func agentConsole(apiBase string) http.Handler {
	b, err := fs.ReadFile(static, "agent.html")
	if err != nil {
		panic(err)
	}
	pageHTML := []byte(strings.Replace(string(b), "{{API}}", html.EscapeString(apiBase), 1))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "use GET"})
			return
		}
		dir, file := path.Split(r.URL.Path)
		if strings.HasSuffix(dir, "/assets/") || dir == "assets/" {
			serveAsset(w, r, file)
			return
		}
		pageHeaders(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(pageHTML)
	})
}

// pageHeaders are the headers of every page: no caching (the demo changes
// with the binary), no sniffing, no framing by other sites.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'self'")
}

func serveFile(w http.ResponseWriter, r *http.Request, name string) {
	b, err := fs.ReadFile(static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	pageHeaders(w)
	w.Header().Set("Content-Type", contentType(name))
	_, _ = w.Write(b)
}

// serveAsset serves a file of the static directory that is not a page.
func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	if name == samplePNGName {
		pageHeaders(w)
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(samplePNG)
		return
	}
	if strings.HasSuffix(name, ".html") || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no such asset"})
		return
	}
	b, err := fs.ReadFile(static, name)
	if err != nil {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no such asset"})
		return
	}
	pageHeaders(w)
	w.Header().Set("Content-Type", contentType(name))
	_, _ = w.Write(b)
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	}
	return "application/octet-stream"
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
