// Package server is the bridge's HTTP surface (Echo v4): the four
// seed-compatible endpoints, the LINE webhook, health, readiness, metrics and
// the admin API, with authentication, limits and error mapping.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"
)

// Options configure a Server. Zero values take the defaults.
type Options struct {
	// APIKey, when set, is required on the four chat endpoints as
	// "Authorization: Bearer <key>" or "X-API-Key: <key>".
	APIKey string
	// MessagesWait is how long /messages waits for an event (default 25s);
	// InitWait how long /init waits for the first decisive one (default 10s).
	MessagesWait time.Duration
	InitWait     time.Duration
	// BodyLimit caps request bodies (default "64K"; the LINE webhook gets
	// 1M, as LINE batches events).
	BodyLimit string
	// RateRPS and RateBurst limit requests per client IP on the chat
	// endpoints (0 RPS: no limit).
	RateRPS   float64
	RateBurst int
	// TrustedProxies are the networks whose X-Forwarded-For is believed;
	// empty trusts loopback, link-local and private peers (Heroku's router).
	TrustedProxies []*net.IPNet
	// SSL redirects plain-HTTP requests (X-Forwarded-Proto) to https, as the
	// seed's SSL=True did. Health and metrics are exempt.
	SSL bool
	// Host, when set and not "*", is the only Host header accepted.
	Host string
	// Ready reports whether the instance can serve (Redis, desk).
	Ready func(context.Context) error
	// LineWebhook serves POST /line/webhook; nil answers 404.
	LineWebhook http.Handler
	// AdminKey and Admin mount the admin API under /admin; without a key
	// the admin API answers 404.
	AdminKey string
	Admin    func(g *echo.Group)
	// Routes adds more routes (demo pages).
	Routes func(e *echo.Echo)
	// Gatherer serves /metrics (default: prometheus.DefaultGatherer);
	// Registerer receives the server's own metrics (default: none).
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Server is the HTTP surface.
type Server struct {
	core Core
	opt  Options
	log  *slog.Logger
	e    *echo.Echo

	drainCtx context.Context // cancelled by Drain
	drain    context.CancelFunc
	waiting  prometheus.Gauge // long polls waiting in /messages and /init
}

// New builds the server.
func New(core Core, opt Options) *Server {
	if opt.MessagesWait <= 0 {
		opt.MessagesWait = 25 * time.Second
	}
	if opt.InitWait <= 0 {
		opt.InitWait = 10 * time.Second
	}
	if opt.BodyLimit == "" {
		opt.BodyLimit = "64K"
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Gatherer == nil {
		opt.Gatherer = prometheus.DefaultGatherer
	}
	s := &Server{core: core, opt: opt, log: opt.Logger}
	s.drainCtx, s.drain = context.WithCancel(context.Background())
	s.waiting = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "bridge_http_long_polls_waiting", Help: "Requests waiting for a chat event (/messages, /init).",
	})
	if opt.Registerer != nil {
		opt.Registerer.MustRegister(s.waiting)
	}
	s.e = s.routes()
	return s
}

// Drain makes waiting /messages and /init calls answer at once (null, as
// after MESSAGES_WAIT), so a shutdown does not wait for long polls: the
// caller polls again and reaches another instance.
func (s *Server) Drain() { s.drain() }

// waitCtx is the request context, also cancelled by Drain.
func (s *Server) waitCtx(c echo.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(c.Request().Context())
	stop := context.AfterFunc(s.drainCtx, cancel)
	s.waiting.Inc()
	return ctx, func() { s.waiting.Dec(); stop(); cancel() }
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.e }

// Echo exposes the router (tests, extra routes).
func (s *Server) Echo() *echo.Echo { return s.e }

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = ipExtractor(s.opt.TrustedProxies)

	e.Use(middleware.Recover())
	e.Use(middleware.RequestID())
	e.Use(s.requestLogger())
	if s.opt.SSL {
		e.Pre(middleware.HTTPSRedirectWithConfig(middleware.RedirectConfig{
			Skipper: func(c echo.Context) bool {
				p := c.Request().URL.Path
				return p == "/healthz" || p == "/readyz" || p == "/metrics"
			},
			Code: http.StatusMovedPermanently,
		}))
	}
	if h := s.opt.Host; h != "" && h != "*" {
		e.Use(hostCheck(h))
	}

	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", s.handleReady)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.opt.Gatherer, promhttp.HandlerOpts{})))

	chatMW := []echo.MiddlewareFunc{middleware.BodyLimit(s.opt.BodyLimit)}
	if s.opt.RateRPS > 0 {
		chatMW = append(chatMW, middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
			Store: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
				Rate: rate.Limit(s.opt.RateRPS), Burst: max(s.opt.RateBurst, 1), ExpiresIn: 3 * time.Minute,
			}),
			DenyHandler: func(c echo.Context, _ string, _ error) error {
				return echo.NewHTTPError(http.StatusTooManyRequests, "rate limit exceeded; slow down")
			},
			ErrorHandler: func(c echo.Context, err error) error {
				return echo.NewHTTPError(http.StatusForbidden, "client address unknown").SetInternal(err)
			},
		}))
	}
	if s.opt.APIKey != "" {
		chatMW = append(chatMW, apiKeyAuth(s.opt.APIKey))
	}
	for path, h := range map[string]echo.HandlerFunc{
		"/init": s.handleInit, "/messages": s.handleMessages, "/send": s.handleSend, "/close": s.handleClose,
	} {
		e.Any(path, postOnly(h), chatMW...)
	}

	e.Any("/line/webhook", func(c echo.Context) error {
		if s.opt.LineWebhook == nil {
			return echo.NewHTTPError(http.StatusNotFound, "the LINE webhook is off: set LINE_CHANNEL_SECRET")
		}
		if c.Request().Method != http.MethodPost {
			c.Response().Header().Set("Allow", http.MethodPost)
			return echo.NewHTTPError(http.StatusMethodNotAllowed, "use POST")
		}
		s.opt.LineWebhook.ServeHTTP(c.Response(), c.Request())
		return nil
	}, middleware.BodyLimit("1M"))

	admin := e.Group("/admin")
	if s.opt.AdminKey == "" || s.opt.Admin == nil {
		admin.Any("/*", func(c echo.Context) error {
			return echo.NewHTTPError(http.StatusNotFound, "the admin API is off: set ADMIN_API_KEY")
		})
	} else {
		admin.Use(apiKeyAuth(s.opt.AdminKey))
		s.opt.Admin(admin)
	}
	if s.opt.Routes != nil {
		s.opt.Routes(e)
	}
	return e
}

// postOnly answers like the Django views: POST served, OPTIONS lists the
// methods, anything else 405 with Allow.
func postOnly(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodPost:
			return h(c)
		case http.MethodOptions:
			c.Response().Header().Set("Allow", "POST, OPTIONS")
			return c.NoContent(http.StatusOK)
		}
		c.Response().Header().Set("Allow", "POST, OPTIONS")
		return echo.NewHTTPError(http.StatusMethodNotAllowed, "use POST")
	}
}

func (s *Server) handleReady(c echo.Context) error {
	if s.opt.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := s.opt.Ready(ctx); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]any{
				"status": "unavailable", "error": map[string]string{"code": "not_ready", "message": err.Error()},
			})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// apiKeyAuth requires key as a Bearer token or X-API-Key (constant time).
func apiKeyAuth(key string) echo.MiddlewareFunc {
	want := []byte(key)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header
			got := h.Get("X-API-Key")
			if a := h.Get("Authorization"); got == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
				got = strings.TrimSpace(a[7:])
			}
			if got == "" || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="bridge"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "missing or wrong API key (Authorization: Bearer <key> or X-API-Key)")
			}
			return next(c)
		}
	}
}

func hostCheck(host string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Host
			if hh, _, err := net.SplitHostPort(h); err == nil {
				h = hh
			}
			if !strings.EqualFold(h, host) && c.Request().URL.Path != "/healthz" {
				return echo.NewHTTPError(http.StatusBadRequest, "host not allowed")
			}
			return next(c)
		}
	}
}

func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPFromXFFHeader() // trusts loopback, link-local, private
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// errorHandler answers every error as JSON {"error":{"code","message"}};
// nothing but a bug yields a 500.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(code)
		}
	}
	if code >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request error", "path", c.Request().URL.Path, "err", err)
	}
	body := map[string]any{"error": map[string]string{"code": codeName(code), "message": msg}}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(code)
	} else {
		err = c.JSON(code, body)
	}
	if err != nil {
		s.log.Error("write error response", "err", err)
	}
}

func codeName(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return strings.ReplaceAll(strings.ToLower(http.StatusText(code)), " ", "_")
}

func (s *Server) requestLogger() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURI: true, LogMethod: true, LogLatency: true, LogRequestID: true,
		LogRemoteIP: true, LogError: true, HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			} else if v.URI == "/healthz" || v.URI == "/readyz" || v.URI == "/metrics" || strings.HasPrefix(v.URI, "/sim/chat/") {
				level = slog.LevelDebug
			}
			attrs := []slog.Attr{
				slog.String("method", v.Method), slog.String("uri", redactURI(v.URI)), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency), slog.String("request_id", v.RequestID), slog.String("ip", v.RemoteIP),
			}
			if v.Error != nil {
				attrs = append(attrs, slog.String("err", v.Error.Error()))
			}
			s.log.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		},
	})
}

// redactURI hides Live Agent session keys (DELETE SessionId/{key}) that the
// embedded simulator's requests carry in their path.
func redactURI(u string) string {
	const p = "/chat/rest/System/SessionId/"
	if i := strings.Index(u, p); i >= 0 {
		return u[:i+len(p)] + "***"
	}
	return u
}
