package events

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// EndpointStatus is an endpoint as the admin API shows it.
type EndpointStatus struct {
	Name   string   `json:"name"`
	URL    string   `json:"url"` // scheme and host only: paths and queries often carry secrets
	Format string   `json:"format"`
	Events []string `json:"events"`
	// Enabled is true when the endpoint is configured on and not disabled.
	Enabled bool `json:"enabled"`
	// Status is active, disabled (after a 410; POST …/enable) or off
	// (enabled: false in the configuration).
	Status              string     `json:"status"`
	DisabledReason      string     `json:"disabled_reason,omitempty"`
	DisabledAt          *time.Time `json:"disabled_at,omitempty"`
	ConsecutiveFailures int64      `json:"consecutive_failures"`
	Pending             int64      `json:"pending"`
	LastSuccessAt       *time.Time `json:"last_success_at,omitempty"`
	LastFailureAt       *time.Time `json:"last_failure_at,omitempty"`
}

// Endpoints reports every configured endpoint with its health.
func (d *Dispatcher) Endpoints(ctx context.Context) ([]EndpointStatus, error) {
	out := make([]EndpointStatus, 0, len(d.order))
	for _, ep := range d.order {
		st, err := d.endpointStatus(ctx, ep)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (d *Dispatcher) endpointStatus(ctx context.Context, ep *endpointRT) (EndpointStatus, error) {
	f, err := d.q.endpointState(ctx, ep.Name)
	if err != nil {
		return EndpointStatus{}, err
	}
	evs := ep.Events
	if len(evs) == 0 {
		evs = DefaultTypes
	}
	st := EndpointStatus{
		Name: ep.Name, URL: redactURL(ep.URL), Format: ep.Format, Events: evs,
		Status: "active", DisabledReason: f["disabled_reason"], DisabledAt: msTime(f["disabled_at"]),
		LastSuccessAt: msTime(f["last_success_at"]), LastFailureAt: msTime(f["last_failure_at"]),
	}
	st.ConsecutiveFailures, _ = strconv.ParseInt(f["failures"], 10, 64)
	st.Pending, _ = strconv.ParseInt(f["pending"], 10, 64)
	switch {
	case !ep.Enabled:
		st.Status = "off"
	case f["disabled"] == "1":
		st.Status = "disabled"
	}
	st.Enabled = st.Status == "active"
	return st, nil
}

func msTime(s string) *time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	r := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		r += "/…"
	}
	return r
}

// Deliveries returns delivery log entries, newest first: of one endpoint
// or all, only successes or failures when status is "success" or
// "failure", at most limit.
func (d *Dispatcher) Deliveries(ctx context.Context, endpoint, status string, limit int) ([]Attempt, error) {
	names := []string{endpoint}
	if endpoint == "" {
		names = names[:0]
		for _, ep := range d.order {
			names = append(names, ep.Name)
		}
	} else if d.eps[endpoint] == nil {
		return nil, ErrUnknownEndpoint
	}
	var all []Attempt
	for _, n := range names {
		as, err := d.q.readLog(ctx, n, d.cfg.LogSize)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if status == "" || a.Status == status {
				all = append(all, a)
			}
		}
	}
	slices.SortStableFunc(all, func(a, b Attempt) int { return b.Time.Compare(a.Time) })
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// Redeliver queues a finished delivery (succeeded or failed) again, with the
// same event and webhook-id, behind the chat's queued events.
func (d *Dispatcher) Redeliver(ctx context.Context, id string) error {
	if err := d.q.redeliver(ctx, id, d.now()); err != nil {
		return err
	}
	d.notify(1)
	return nil
}

// Enable turns an endpoint disabled by a 410 back on; its queued deliveries
// resume.
func (d *Dispatcher) Enable(ctx context.Context, name string) (EndpointStatus, error) {
	ep := d.eps[name]
	if ep == nil {
		return EndpointStatus{}, ErrUnknownEndpoint
	}
	if !ep.Enabled {
		return EndpointStatus{}, ErrEndpointDisabled
	}
	if err := d.q.enable(ctx, name, d.now()); err != nil {
		return EndpointStatus{}, err
	}
	d.notify(cap(d.wake))
	return d.endpointStatus(ctx, ep)
}

// SendTest queues a webhook.test event for one endpoint (even one that is
// off in the configuration, so it can be tried before it is switched on).
func (d *Dispatcher) SendTest(ctx context.Context, name string) (deliveryID, eventID string, err error) {
	ep := d.eps[name]
	if ep == nil {
		return "", "", ErrUnknownEndpoint
	}
	f, err := d.q.endpointState(ctx, name)
	if err != nil {
		return "", "", err
	}
	if f["disabled"] == "1" {
		return "", "", ErrEndpointDisabled
	}
	now := d.now().UTC()
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	rec := &record{ID: "evt_" + hashID(TypeWebhookTest, name, hex.EncodeToString(nonce)), Type: TypeWebhookTest, Time: now, Endpoint: name}
	spec := specFor(rec, name)
	if _, err := d.q.enqueue(ctx, now, []*record{rec}, []dlvSpec{spec}); err != nil {
		return "", "", err
	}
	d.notify(1)
	return spec.ID, rec.ID, nil
}

// ---- HTTP ----

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func jsonError(c echo.Context, status int, code, msg string) error {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	return c.JSON(status, e)
}

// AdminAuth guards the admin routes with key, given as "Authorization:
// Bearer <key>" or "X-API-Key: <key>" and compared in constant time. A wrong
// or missing key gets 401; with no key configured the admin API is off and
// every route answers 404.
func AdminAuth(key string) echo.MiddlewareFunc {
	want := sha256.Sum256([]byte(key))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if key == "" {
				return jsonError(c, http.StatusNotFound, "not_found", "the admin API is off: set ADMIN_API_KEY to turn it on")
			}
			got := c.Request().Header.Get("X-API-Key")
			if a := c.Request().Header.Get("Authorization"); got == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
				got = strings.TrimSpace(a[7:])
			}
			g := sha256.Sum256([]byte(got))
			if got == "" || subtle.ConstantTimeCompare(g[:], want[:]) != 1 {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
				return jsonError(c, http.StatusUnauthorized, "unauthorized", "a valid admin key is required (Authorization: Bearer <key> or X-API-Key)")
			}
			return next(c)
		}
	}
}

// RegisterAdmin adds the admin routes to g (mounted at /admin, behind
// AdminAuth). See openapi-admin.yaml.
func (d *Dispatcher) RegisterAdmin(g *echo.Group) {
	g.GET("/endpoints", d.handleEndpoints)
	g.GET("/deliveries", d.handleDeliveries)
	g.POST("/deliveries/:id/redeliver", d.handleRedeliver)
	g.POST("/endpoints/:name/enable", d.handleEnable)
	g.POST("/endpoints/:name/test", d.handleTest)
}

var deliveryIDRE = regexp.MustCompile(`^dlv_[a-z2-7]{26}$`)

func (d *Dispatcher) handleEndpoints(c echo.Context) error {
	eps, err := d.Endpoints(c.Request().Context())
	if err != nil {
		return d.unavailable(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"endpoints": eps})
}

func (d *Dispatcher) handleDeliveries(c echo.Context) error {
	limit := 50
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return jsonError(c, http.StatusBadRequest, "invalid_limit", "limit must be a whole number from 1 to 1000")
		}
		limit = n
	}
	status := c.QueryParam("status")
	if status != "" && status != "success" && status != "failure" {
		return jsonError(c, http.StatusBadRequest, "invalid_status", "status must be success or failure")
	}
	as, err := d.Deliveries(c.Request().Context(), c.QueryParam("endpoint"), status, limit)
	if err != nil {
		return d.mapError(c, err)
	}
	if as == nil {
		as = []Attempt{}
	}
	return c.JSON(http.StatusOK, map[string]any{"deliveries": as})
}

func (d *Dispatcher) handleRedeliver(c echo.Context) error {
	id := c.Param("id")
	if !deliveryIDRE.MatchString(id) {
		return jsonError(c, http.StatusBadRequest, "invalid_id", "a delivery id looks like dlv_ followed by 26 characters a–z, 2–7")
	}
	if err := d.Redeliver(c.Request().Context(), id); err != nil {
		return d.mapError(c, err)
	}
	return c.JSON(http.StatusAccepted, map[string]any{"delivery_id": id, "status": StatusPending})
}

func (d *Dispatcher) handleEnable(c echo.Context) error {
	st, err := d.Enable(c.Request().Context(), c.Param("name"))
	if err != nil {
		return d.mapError(c, err)
	}
	return c.JSON(http.StatusOK, st)
}

func (d *Dispatcher) handleTest(c echo.Context) error {
	dlv, evt, err := d.SendTest(c.Request().Context(), c.Param("name"))
	if err != nil {
		return d.mapError(c, err)
	}
	return c.JSON(http.StatusAccepted, map[string]any{"delivery_id": dlv, "event_id": evt, "status": StatusPending})
}

func (d *Dispatcher) mapError(c echo.Context, err error) error {
	switch {
	case errors.Is(err, ErrUnknownEndpoint):
		return jsonError(c, http.StatusNotFound, "unknown_endpoint", "no endpoint has that name")
	case errors.Is(err, ErrNotFound):
		return jsonError(c, http.StatusNotFound, "not_found", "no delivery has that id (finished deliveries are kept for the retention period)")
	case errors.Is(err, ErrBusy):
		return jsonError(c, http.StatusConflict, "delivery_pending", "the delivery is still queued or being attempted")
	case errors.Is(err, ErrEndpointDisabled):
		return jsonError(c, http.StatusConflict, "endpoint_disabled", "the endpoint is disabled: enable it first (or set enabled: true in the configuration)")
	case errors.Is(err, ErrEventExpired):
		return jsonError(c, http.StatusGone, "event_expired", "the event is past the retention period and cannot be sent again")
	}
	return d.unavailable(c, err)
}

func (d *Dispatcher) unavailable(c echo.Context, err error) error {
	d.log.WarnContext(c.Request().Context(), "events: admin request failed", "err", err)
	return jsonError(c, http.StatusServiceUnavailable, "unavailable", "the delivery store is unavailable; try again")
}
