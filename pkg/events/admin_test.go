package events

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const adminKey = "test-admin-key-0123456789"

func adminServer(d *Dispatcher, key string) *echo.Echo {
	e := echo.New()
	g := e.Group("/admin", AdminAuth(key))
	d.RegisterAdmin(g)
	return e
}

type adminResp struct {
	Code int
	Body map[string]any
	Raw  string
}

func call(t *testing.T, e *echo.Echo, method, path string, hdr map[string]string) adminResp {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s %s: answer is not JSON (%d): %s", method, path, rec.Code, rec.Body)
	}
	return adminResp{Code: rec.Code, Body: body, Raw: rec.Body.String()}
}

func errCode(r adminResp) string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

var bearer = map[string]string{"Authorization": "Bearer " + adminKey}

func TestAdminAuth(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	d := newDispatcher(t, rdb, fastConfig(testPrefix(t, rdb), Endpoint{Name: "s", URL: "https://example.com/h?token=x", Secret: testSecret}))

	off := adminServer(d, "")
	if r := call(t, off, http.MethodGet, "/admin/endpoints", bearer); r.Code != 404 || errCode(r) != "not_found" {
		t.Errorf("no key configured: %d %s", r.Code, r.Raw)
	}
	e := adminServer(d, adminKey)
	for name, hdr := range map[string]map[string]string{
		"none":         nil,
		"wrong bearer": {"Authorization": "Bearer nope"},
		"wrong header": {"X-API-Key": adminKey + "x"},
		"basic":        {"Authorization": "Basic " + adminKey},
	} {
		if r := call(t, e, http.MethodGet, "/admin/endpoints", hdr); r.Code != 401 || errCode(r) != "unauthorized" {
			t.Errorf("%s: %d %s", name, r.Code, r.Raw)
		}
	}
	for _, hdr := range []map[string]string{bearer, {"Authorization": "bearer " + adminKey}, {"X-API-Key": adminKey}} {
		r := call(t, e, http.MethodGet, "/admin/endpoints", hdr)
		eps, _ := r.Body["endpoints"].([]any)
		if r.Code != 200 || len(eps) != 1 {
			t.Fatalf("%v: %d %s", hdr, r.Code, r.Raw)
		}
		ep := eps[0].(map[string]any)
		if ep["name"] != "s" || ep["status"] != "active" || ep["enabled"] != true || ep["url"] != "https://example.com/…" || strings.Contains(r.Raw, "whsec_") {
			t.Errorf("endpoint %v", ep)
		}
	}
}

func TestAdminDeliveriesRedeliverAndTest(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	rc := newReceiver(t, nil)
	d := startDispatcher(t, rdb, fastConfig(testPrefix(t, rdb), Endpoint{Name: "s", URL: rc.URL, Secret: testSecret, AllowPrivate: true}))
	e := adminServer(d, adminKey)
	ctx := context.Background()

	for path, want := range map[string]int{
		"/admin/deliveries?limit=abc":       400,
		"/admin/deliveries?limit=0":         400,
		"/admin/deliveries?status=maybe":    400,
		"/admin/deliveries?endpoint=nobody": 404,
	} {
		if r := call(t, e, http.MethodGet, path, bearer); r.Code != want || errCode(r) == "" {
			t.Errorf("GET %s: %d %s", path, r.Code, r.Raw)
		}
	}
	for path, want := range map[string]int{
		"/admin/deliveries/not-an-id/redeliver":                      400,
		"/admin/deliveries/dlv_aaaaaaaaaaaaaaaaaaaaaaaaaa/redeliver": 404,
		"/admin/endpoints/nobody/enable":                             404,
		"/admin/endpoints/nobody/test":                               404,
	} {
		if r := call(t, e, http.MethodPost, path, bearer); r.Code != want || errCode(r) == "" {
			t.Errorf("POST %s: %d %s", path, r.Code, r.Raw)
		}
	}

	if err := d.Sink().Deliver(ctx, chatDelivery("U1", "C1", 0, 1)); err != nil {
		t.Fatal(err)
	}
	var list []any
	waitFor(t, 5*time.Second, "a logged success", func() bool {
		r := call(t, e, http.MethodGet, "/admin/deliveries?endpoint=s&status=success&limit=5", bearer)
		list, _ = r.Body["deliveries"].([]any)
		return len(list) == 1
	})
	entry := list[0].(map[string]any)
	id, _ := entry["delivery_id"].(string)
	if entry["event_type"] != TypeMessageReceived || entry["http_status"] != float64(200) || entry["endpoint"] != "s" ||
		entry["customer"] != "U1" || entry["response"] != "status 200" || entry["success"] != true {
		t.Errorf("log entry %v", entry)
	}
	if r := call(t, e, http.MethodGet, "/admin/deliveries?status=failure", bearer); r.Code != 200 || len(r.Body["deliveries"].([]any)) != 0 {
		t.Errorf("failures: %s", r.Raw)
	}

	r := call(t, e, http.MethodPost, "/admin/deliveries/"+id+"/redeliver", bearer)
	if r.Code != 202 || r.Body["delivery_id"] != id {
		t.Fatalf("redeliver: %d %s", r.Code, r.Raw)
	}
	waitFor(t, 5*time.Second, "the redelivery", func() bool { return rc.count() == 2 })
	rs := rc.all()
	if rs[0].Header.Get("webhook-id") != rs[1].Header.Get("webhook-id") {
		t.Error("a redelivery must keep the webhook-id")
	}

	r = call(t, e, http.MethodPost, "/admin/endpoints/s/test", bearer)
	if r.Code != 202 || r.Body["event_id"] == nil {
		t.Fatalf("test: %d %s", r.Code, r.Raw)
	}
	waitFor(t, 5*time.Second, "webhook.test", func() bool { return rc.count() == 3 })
	test := rc.all()[2]
	wh, _ := standardwebhooks.NewWebhook(testSecret)
	if err := wh.Verify(test.Body, test.Header); err != nil {
		t.Errorf("webhook.test does not verify: %v", err)
	}
	if env := decode(t, test.Body); env.Type != TypeWebhookTest || env.ID != r.Body["event_id"] || env.Data["endpoint"] != "s" {
		t.Errorf("webhook.test body %s", test.Body)
	}

	if r := call(t, e, http.MethodPost, "/admin/endpoints/s/enable", bearer); r.Code != 200 || r.Body["status"] != "active" {
		t.Errorf("enable: %d %s", r.Code, r.Raw)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Endpoint{Name: "ok", URL: "https://example.com/h", Secret: testSecret, Enabled: true}
	if err := (Config{Endpoints: []Endpoint{ok}}).Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("empty config: %v", err)
	}
	cases := map[string]struct {
		mut  func(*Config)
		want string
	}{
		"bad name":      {func(c *Config) { c.Endpoints[0].Name = "a b" }, "name must be"},
		"duplicate":     {func(c *Config) { c.Endpoints = append(c.Endpoints, c.Endpoints[0]) }, "same name"},
		"bad url":       {func(c *Config) { c.Endpoints[0].URL = "ftp://x" }, "absolute http"},
		"userinfo":      {func(c *Config) { c.Endpoints[0].URL = "https://u:p@example.com" }, "user:password"},
		"format":        {func(c *Config) { c.Endpoints[0].Format = "slack" }, "not one of"},
		"no secret":     {func(c *Config) { c.Endpoints[0].Secret = "" }, "needs a secret"},
		"short secret":  {func(c *Config) { c.Endpoints[0].Secret = "short" }, "at least 16"},
		"bad whsec":     {func(c *Config) { c.Endpoints[0].Secret = "whsec_!!" }, "not valid base64"},
		"small whsec":   {func(c *Config) { c.Endpoints[0].Secret = "whsec_c2hvcnQ=" }, "24–64"},
		"event":         {func(c *Config) { c.Endpoints[0].Events = []string{"chat.exploded"} }, "unknown event type"},
		"header":        {func(c *Config) { c.Endpoints[0].Headers = map[string]string{"webhook-signature": "x"} }, "cannot be overridden"},
		"timeout":       {func(c *Config) { c.Endpoints[0].Timeout = 2 * time.Minute }, "below lease"},
		"retention":     {func(c *Config) { c.Retention = time.Hour }, "retention"},
		"admin key":     {func(c *Config) { c.AdminAPIKey = "short" }, "ADMIN_API_KEY"},
		"workers":       {func(c *Config) { c.Workers = -1 }, "workers"},
		"prefix":        {func(c *Config) { c.KeyPrefix = "a{b}" }, "key_prefix"},
		"negative step": {func(c *Config) { c.Schedule = []time.Duration{0, -time.Second} }, "schedule[1]"},
	}
	for name, tc := range cases {
		c := Config{Endpoints: []Endpoint{ok}}
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, tc.want)
		}
	}
	// A livechat_v2 endpoint (a Google Apps Script) may go without a secret.
	lc := Endpoint{Name: "gas", URL: "https://script.google.com/macros/s/X/exec", Format: FormatLiveChatV2, Enabled: true}
	if err := (Config{Endpoints: []Endpoint{lc}}).Validate(); err != nil {
		t.Errorf("livechat_v2 without secret: %v", err)
	}
	ep, ok2 := EnvEndpoint(" https://example.com/h ", testSecret, "")
	if !ok2 || ep.Name != DefaultEndpointName || !ep.Enabled || ep.URL != "https://example.com/h" {
		t.Errorf("EnvEndpoint: %+v", ep)
	}
	if _, ok := EnvEndpoint("", "", ""); ok {
		t.Error("EnvEndpoint without a URL")
	}
	c := Config{Endpoints: []Endpoint{ep}}.WithDefaults()
	if c.Endpoints[0].Format != FormatStandard || c.Endpoints[0].Timeout != DefaultTimeout || len(c.Schedule) != 10 || c.KeyPrefix != "wh" {
		t.Errorf("defaults: %+v", c)
	}
}

func TestExcerptKeepsUTF8Within512(t *testing.T) {
	b := []byte(strings.Repeat("あ", 300)) // 900 bytes
	s := excerpt(b, responseExcerpt)
	if len(s) > responseExcerpt || len(s) != 510 || !strings.HasPrefix(string(b), s) {
		t.Errorf("excerpt is %d bytes", len(s))
	}
}
