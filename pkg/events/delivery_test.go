package events

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

type envelope struct {
	Type       string            `json:"type"`
	ID         string            `json:"id"`
	Timestamp  time.Time         `json:"timestamp"`
	APIVersion string            `json:"api_version"`
	Chat       map[string]any    `json:"chat"`
	Data       map[string]any    `json:"data"`
	Params     map[string]string `json:"params"`
}

func decode(t *testing.T, b []byte) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("body: %v\n%s", err, b)
	}
	return e
}

func TestStandardRequestVerifiesWithStandardWebhooksLibrary(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	rc := newReceiver(t, nil)
	cfg := fastConfig(testPrefix(t, rdb), Endpoint{
		Name: "std", URL: rc.URL, Secret: testSecret, AllowPrivate: true,
		Headers: map[string]string{"X-Tenant": "acme"}, Params: map[string]string{"site": "tokyo"},
	})
	d := startDispatcher(t, rdb, cfg)
	if err := d.Sink().Deliver(context.Background(), chatDelivery("U1", "C1", 0, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the request", func() bool { return rc.count() == 1 })
	r := rc.all()[0]
	wh, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.Body, r.Header); err != nil {
		t.Fatalf("standard-webhooks Verify: %v\nheaders %v", err, r.Header)
	}
	e := decode(t, r.Body)
	if e.Type != TypeMessageReceived || e.ID != r.Header.Get("webhook-id") || e.APIVersion != APIVersion ||
		e.Chat["id"] != "C1" || e.Chat["line_user_id"] != "U1" || e.Params["site"] != "tokyo" {
		t.Errorf("envelope %+v", e)
	}
	if !regexp.MustCompile(`^evt_[a-z2-7]{26}$`).MatchString(e.ID) || e.ID != EventID("U1", "C1", "C1-0", TypeMessageReceived) {
		t.Errorf("id %q is not the derived id", e.ID)
	}
	msg, _ := e.Data["message"].(map[string]any)
	if msg["text"] != "message 0" || msg["author_type"] != "visitor" {
		t.Errorf("data %v", e.Data)
	}
	for k, want := range map[string]string{"X-Tenant": "acme", "Content-Type": "application/json", "User-Agent": DefaultUserAgent, "X-Bridge-Event-Type": TypeMessageReceived} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestRawSecretAndChatwootSignature(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	const raw = "a-raw-shared-secret-of-chatwoot"
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	d := startDispatcher(t, rdb, fastConfig(testPrefix(t, rdb), Endpoint{Name: "cw", URL: rc.URL, Secret: raw, Format: FormatChatwoot, AllowPrivate: true}))
	if err := d.Sink().Deliver(context.Background(), chatDelivery("U1", "C1", 0, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a retry", func() bool { return rc.count() == 2 })
	rs := rc.all()
	wh, _ := standardwebhooks.NewWebhookRaw([]byte(raw))
	for i, r := range rs {
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Errorf("request %d: standard-webhooks Verify (raw secret): %v", i, err)
		}
		m := hmac.New(sha256.New, []byte(raw))
		m.Write([]byte(r.Header.Get("X-Chatwoot-Timestamp") + "." + string(r.Body)))
		if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); r.Header.Get("X-Chatwoot-Signature") != want {
			t.Errorf("request %d: X-Chatwoot-Signature %q, want %q", i, r.Header.Get("X-Chatwoot-Signature"), want)
		}
		var body map[string]any
		_ = json.Unmarshal(r.Body, &body)
		if body["event"] != "message_created" || body["message_type"] != "incoming" {
			t.Errorf("request %d: body %s", i, r.Body)
		}
	}
	if a, b := rs[0].Header.Get("X-Chatwoot-Delivery"), rs[1].Header.Get("X-Chatwoot-Delivery"); a == "" || a != b {
		t.Errorf("X-Chatwoot-Delivery changed across retries: %q, %q", a, b)
	}
}

func TestRetriesKeepWebhookID(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n < 3 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	d := startDispatcher(t, rdb, fastConfig(testPrefix(t, rdb), Endpoint{Name: "std", URL: rc.URL, Secret: testSecret, AllowPrivate: true}))
	if err := d.Sink().Deliver(context.Background(), chatDelivery("U1", "C1", 0, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "four attempts", func() bool { return rc.count() == 4 })
	wh, _ := standardwebhooks.NewWebhook(testSecret)
	rs := rc.all()
	for i, r := range rs {
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Errorf("attempt %d does not verify: %v", i+1, err)
		}
		if r.Header.Get("webhook-id") != rs[0].Header.Get("webhook-id") || string(r.Body) != string(rs[0].Body) {
			t.Errorf("attempt %d: webhook-id %q or body changed", i+1, r.Header.Get("webhook-id"))
		}
	}
	var log []Attempt
	waitFor(t, 5*time.Second, "the success in the log", func() bool {
		log, _ = d.Deliveries(context.Background(), "std", "", 10)
		return len(log) == 4 && log[0].Success
	})
	for i, a := range log { // newest first
		if a.Attempt != 4-i || a.EventID != rs[0].Header.Get("webhook-id") || a.LatencyMS < 0 {
			t.Errorf("log[%d] = %+v", i, a)
		}
	}
	if log[0].DeliveryStatus != StatusSucceeded || log[0].HTTPStatus != 204 || log[1].DeliveryStatus != StatusRetrying ||
		log[1].HTTPStatus != 500 || log[1].NextAttemptAt == nil || log[1].Response != "status 500" {
		t.Errorf("log %+v", log[:2])
	}
}

// TestReceiverDownThenUpGetsEverythingOnceInOrder: two instances share the
// queue; the receiver fails its first requests; in the end every event
// arrived with a 2xx exactly once, and each chat's events in order.
func TestReceiverDownThenUpGetsEverythingOnceInOrder(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	const failures = 12
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n < failures {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	cfg := fastConfig(testPrefix(t, rdb), Endpoint{Name: "std", URL: rc.URL, Secret: testSecret, AllowPrivate: true})
	d1 := startDispatcher(t, rdb, cfg)
	startDispatcher(t, rdb, cfg) // a second instance
	chats := []string{"C1", "C2", "C3"}
	want := map[string]string{} // event id → "chat/n"
	for _, batch := range [][2]int{{0, 3}, {3, 3}} {
		for _, c := range chats {
			del := chatDelivery("U-"+c, c, batch[0], batch[1])
			if err := d1.Sink().Deliver(context.Background(), del); err != nil {
				t.Fatal(err)
			}
			for _, ev := range del.Events {
				want[EventID(del.Customer, ev.Chat, ev.ID, TypeMessageReceived)] = ev.ID
			}
		}
	}
	waitFor(t, 20*time.Second, "all deliveries to finish", func() bool {
		eps, err := d1.Endpoints(context.Background())
		return err == nil && eps[0].Pending == 0
	})
	got := map[string]int{}
	last := map[string]string{}
	for _, r := range rc.all() {
		if r.Status != http.StatusOK {
			continue
		}
		id := r.Header.Get("webhook-id")
		got[id]++
		e := decode(t, r.Body)
		chat, _ := e.Chat["id"].(string)
		msg, _ := e.Data["message"].(map[string]any)
		text, _ := msg["text"].(string)
		if text <= last[chat] { // "message 0" < "message 1" < …
			t.Errorf("chat %s: %q arrived after %q", chat, text, last[chat])
		}
		last[chat] = text
	}
	for id, ev := range want {
		if got[id] != 1 {
			t.Errorf("event %s (%s) arrived %d times", id, ev, got[id])
		}
	}
	if len(got) != len(want) || rc.count() < failures+len(want) {
		t.Errorf("got %d distinct events in %d requests, want %d after %d failures", len(got), rc.count(), len(want), failures)
	}
}

func Test410DisablesParksAndNotifies(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	gone := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			return http.StatusGone
		}
		return http.StatusOK
	})
	other := newReceiver(t, nil)
	d := startDispatcher(t, rdb, fastConfig(testPrefix(t, rdb),
		Endpoint{Name: "a", URL: gone.URL, Secret: testSecret, AllowPrivate: true},
		Endpoint{Name: "b", URL: other.URL, Secret: testSecret, AllowPrivate: true}))
	ctx := context.Background()
	if err := d.Sink().Deliver(ctx, chatDelivery("U1", "C1", 0, 3)); err != nil {
		t.Fatal(err)
	}
	var notice envelope
	waitFor(t, 5*time.Second, "endpoint.disabled at b", func() bool {
		for _, r := range other.all() {
			if e := decode(t, r.Body); e.Type == TypeEndpointDisabled {
				notice = e
				return true
			}
		}
		return false
	})
	if notice.Data["endpoint"] != "a" || notice.Data["status_code"] != float64(410) || notice.Chat != nil {
		t.Errorf("endpoint.disabled %+v", notice)
	}
	waitFor(t, 5*time.Second, "a's lane to be parked", func() bool {
		return rdb.SCard(ctx, d.q.key("parked:a")).Val() == 1
	})
	eps, _ := d.Endpoints(ctx)
	if eps[0].Status != "disabled" || eps[0].Enabled || eps[0].Pending != 2 || !strings.Contains(eps[0].DisabledReason, "410") {
		t.Errorf("endpoint a: %+v", eps[0])
	}
	// A new event is not even queued for a.
	del := chatDelivery("U2", "C2", 0, 1)
	if err := d.Sink().Deliver(ctx, del); err != nil {
		t.Fatal(err)
	}
	evt := EventID("U2", "C2", "C2-0", TypeMessageReceived)
	if n := rdb.Exists(ctx, d.q.key("dlv:"+deliveryID(evt, "a")), d.q.key("dlv:"+deliveryID(evt, "b"))).Val(); n != 1 {
		t.Errorf("%d deliveries queued for the new event, want 1 (b only)", n)
	}
	if gone.count() != 1 {
		t.Fatalf("a got %d requests while disabled", gone.count())
	}
	// Enabled again, a gets the two parked events, in order.
	st, err := d.Enable(ctx, "a")
	if err != nil || st.Status != "active" {
		t.Fatalf("Enable: %+v %v", st, err)
	}
	waitFor(t, 5*time.Second, "the parked events", func() bool { return gone.count() == 3 })
	for i, r := range gone.all()[1:] {
		e := decode(t, r.Body)
		if msg, _ := e.Data["message"].(map[string]any); msg["text"] != "message "+string(rune('1'+i)) {
			t.Errorf("parked event %d: %v", i, msg)
		}
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	target := newReceiver(t, nil)
	src := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) int {
		w.Header().Set("Location", target.URL)
		return http.StatusFound
	})
	cfg := fastConfig(testPrefix(t, rdb), Endpoint{Name: "r", URL: src.URL, Secret: testSecret, AllowPrivate: true})
	cfg.Schedule = cfg.Schedule[:2]
	d := startDispatcher(t, rdb, cfg)
	if err := d.Sink().Deliver(context.Background(), chatDelivery("U1", "C1", 0, 1)); err != nil {
		t.Fatal(err)
	}
	var log []Attempt
	waitFor(t, 5*time.Second, "the delivery to fail", func() bool {
		log, _ = d.Deliveries(context.Background(), "r", "failure", 10)
		return len(log) == 2
	})
	if target.count() != 0 || src.count() != 2 {
		t.Errorf("redirect target got %d requests, source %d", target.count(), src.count())
	}
	if log[0].HTTPStatus != 302 || log[0].DeliveryStatus != StatusFailed || !strings.Contains(log[0].Error, "redirect") {
		t.Errorf("log %+v", log[0])
	}
}

func TestPrivateAddressRefusedAtDialTime(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	rc := newReceiver(t, nil)
	// "localhost" passes any check on the URL's text; the dial-time guard
	// sees the resolved loopback address and refuses it.
	u := strings.Replace(rc.URL, "127.0.0.1", "localhost", 1)
	d := startDispatcher(t, rdb, fastConfig(testPrefix(t, rdb), Endpoint{Name: "p", URL: u, Secret: testSecret}))
	if err := d.Sink().Deliver(context.Background(), chatDelivery("U1", "C1", 0, 1)); err != nil {
		t.Fatal(err)
	}
	var log []Attempt
	waitFor(t, 5*time.Second, "the refusal", func() bool {
		log, _ = d.Deliveries(context.Background(), "p", "", 10)
		return len(log) == 1
	})
	if rc.count() != 0 {
		t.Fatalf("the private receiver got %d requests", rc.count())
	}
	if log[0].DeliveryStatus != StatusFailed || !strings.Contains(log[0].Error, "private address") {
		t.Errorf("log %+v", log[0])
	}
}

func TestPrivateAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"100.64.0.1": true, "0.0.0.0": true, "::1": true, "fe80::1": true, "fc00::1": true, "::": true,
		"::ffff:127.0.0.1": true, "64:ff9b::7f00:1": true, "224.0.0.1": true, "255.255.255.255": true,
		"8.8.8.8": false, "1.1.1.1": false, "2606:4700::1111": false, "64:ff9b::808:808": false,
	} {
		if got := PrivateAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("PrivateAddr(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			return http.StatusTooManyRequests
		}
		return http.StatusOK
	})
	d := startDispatcher(t, rdb, fastConfig(testPrefix(t, rdb), Endpoint{Name: "s", URL: rc.URL, Secret: testSecret, AllowPrivate: true}))
	if err := d.Sink().Deliver(context.Background(), chatDelivery("U1", "C1", 0, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the second attempt", func() bool { return rc.count() == 2 })
	rs := rc.all()
	if gap := rs[1].At.Sub(rs[0].At); gap < 950*time.Millisecond {
		t.Errorf("second attempt %s after a 429 with Retry-After: 1", gap)
	}
}

func TestLeaseOfDeadInstanceIsTakenOver(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	rc := newReceiver(t, nil)
	cfg := fastConfig(testPrefix(t, rdb), Endpoint{Name: "s", URL: rc.URL, Secret: testSecret, AllowPrivate: true, Timeout: 200 * time.Millisecond})
	cfg.Lease = 300 * time.Millisecond
	d := newDispatcher(t, rdb, cfg)
	ctx := context.Background()
	if err := d.Sink().Deliver(ctx, chatDelivery("U1", "C1", 0, 1)); err != nil {
		t.Fatal(err)
	}
	// An instance claims the delivery and dies before finishing.
	dead, err := d.q.claim(ctx, time.Now(), cfg.Lease, "dead-instance")
	if err != nil || dead == nil {
		t.Fatalf("claim: %v %v", dead, err)
	}
	run(t, d)
	waitFor(t, 5*time.Second, "the taken-over attempt", func() bool { return rc.count() == 1 })
	waitFor(t, 5*time.Second, "the log", func() bool {
		log, _ := d.Deliveries(ctx, "s", "success", 10)
		return len(log) == 1 && log[0].Attempt == 2
	})
	if ok, err := d.q.complete(ctx, dead, StatusSucceeded, time.Now(), time.Now(), 200, ""); ok || err != nil {
		t.Errorf("the dead instance's late completion was accepted: %v %v", ok, err)
	}
}

func TestSinkEnqueuesIdempotently(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	d := newDispatcher(t, rdb, fastConfig(testPrefix(t, rdb),
		Endpoint{Name: "s", URL: "https://example.com/hook", Secret: testSecret},
		Endpoint{Name: "cd", URL: "https://example.com/cd", Format: FormatChatDealer}))
	ctx := context.Background()
	del := chatDelivery("U1", "C1", 0, 3)
	for range 2 { // a redelivered batch
		if err := d.Sink().Deliver(ctx, del); err != nil {
			t.Fatal(err)
		}
	}
	for _, ep := range []string{"s", "cd"} {
		st, _ := d.q.endpointState(ctx, ep)
		if st["pending"] != "3" {
			t.Errorf("%s: %s pending, want 3", ep, st["pending"])
		}
		if n := rdb.LLen(ctx, d.q.key("lane:"+ep+"|U1/C1")).Val(); n != 3 {
			t.Errorf("%s: lane holds %d, want 3", ep, n)
		}
	}
}

func TestSinkAcceptsAndExcludes(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	d := newDispatcher(t, rdb, fastConfig(testPrefix(t, rdb),
		Endpoint{Name: "lc", URL: "https://example.com/gas", Format: FormatLiveChatV2, ExcludeCustomers: []string{"Ustaff"}}))
	s := d.Sink()
	if s.Name() != "events" || s.Batch(make([]bridge.Event, 7)) != 7 {
		t.Error("name or batch")
	}
	for k, want := range map[bridge.Kind]bool{
		bridge.KindStarted: true, bridge.KindEnded: true, bridge.KindRequestFailed: true,
		bridge.KindAgentMessage: false, bridge.KindAgentTyping: false, bridge.KindFileRequested: false,
	} {
		if got := s.Accepts(bridge.Event{Kind: k}); got != want {
			t.Errorf("livechat_v2 only: Accepts(%s) = %v", k, got)
		}
	}
	ctx := context.Background()
	del := liveChatFixture().delivery("x1")
	del.Customer = "Ustaff"
	if err := s.Deliver(ctx, del); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.q.endpointState(ctx, "lc"); st["pending"] != "" {
		t.Errorf("excluded customer's chat was queued: %v", st)
	}

	typing := newDispatcher(t, rdb, fastConfig(testPrefix(t, rdb),
		Endpoint{Name: "all", URL: "https://example.com/a", Secret: testSecret},
		Endpoint{Name: "t", URL: "https://example.com/t", Secret: testSecret, Events: []string{TypeAgentTyping}}))
	if !typing.Sink().Accepts(bridge.Event{Kind: bridge.KindAgentNotTyping}) {
		t.Error("agent.typing not accepted although an endpoint lists it")
	}
	if d2 := newDispatcher(t, rdb, fastConfig(testPrefix(t, rdb), Endpoint{Name: "all", URL: "https://example.com/a", Secret: testSecret})); d2.Sink().Accepts(bridge.Event{Kind: bridge.KindAgentTyping}) {
		t.Error("agent.typing accepted without an opt-in")
	}
}

func TestShutdownHandsAnAttemptBack(t *testing.T) {
	t.Parallel()
	rdb := testRedis(t)
	started := make(chan struct{}, 1)
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) int {
		started <- struct{}{}
		<-r.Context().Done() // hang until the client gives up
		return http.StatusOK
	})
	d := newDispatcher(t, rdb, fastConfig(testPrefix(t, rdb), Endpoint{Name: "s", URL: rc.URL, Secret: testSecret, AllowPrivate: true}))
	ctx := context.Background()
	if err := d.Sink().Deliver(ctx, chatDelivery("U1", "C1", 0, 1)); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	<-started
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	id := deliveryID(EventID("U1", "C1", "C1-0", TypeMessageReceived), "s")
	f := rdb.HGetAll(ctx, d.q.key("dlv:"+id)).Val()
	if f["status"] != StatusPending || f["attempts"] != "0" || f["token"] != "" {
		t.Errorf("after shutdown the delivery is %v, want it pending again", f)
	}
	if n := rdb.ZCard(ctx, d.q.key("inflight")).Val(); n != 0 {
		t.Errorf("%d lanes still in flight", n)
	}
}

func TestAppsScriptRedirectCountsAsDelivered(t *testing.T) {
	resp := func(code int, loc string) *http.Response {
		return &http.Response{StatusCode: code, Header: http.Header{"Location": {loc}}}
	}
	gas, _ := url.Parse("https://script.google.com/macros/s/ABC/exec")
	other, _ := url.Parse("https://example.com/hook")
	echo := "https://script.googleusercontent.com/macros/echo?user_content_key=x"
	for _, tc := range []struct {
		u    *url.URL
		r    *http.Response
		want bool
	}{
		{gas, resp(302, echo), true},
		{gas, resp(303, echo), true},
		{gas, resp(301, echo), false},
		{gas, resp(302, "https://evil.example.com/"), false},
		{gas, resp(302, "http://script.googleusercontent.com/x"), false},
		{other, resp(302, echo), false},
	} {
		if got := appsScriptAck(tc.u, tc.r); got != tc.want {
			t.Errorf("%s → %d %s: %v", tc.u, tc.r.StatusCode, tc.r.Header.Get("Location"), got)
		}
	}
}
