package line

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

func newTestPusher(t *testing.T, mod ...func(*Config)) (*Pusher, *linesim.Server) {
	t.Helper()
	sim, url := newSim(t)
	cfg := Config{ChannelToken: testToken, APIBaseURL: url, HTTPTimeout: 2 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	p, err := NewPusher(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("NewPusher: %v", err)
	}
	p.retryBase = time.Millisecond
	return p, sim
}

var keySeq struct {
	sync.Mutex
	n int
}

func delivery(lang string, evs ...bridge.Event) bridge.Delivery {
	keySeq.Lock()
	keySeq.n++
	n := keySeq.n
	keySeq.Unlock()
	for i := range evs {
		if evs[i].ID == "" {
			evs[i].ID = fmt.Sprintf("ev-%d-%d", n, i)
		}
	}
	return bridge.Delivery{
		Customer: testUser,
		Chat:     bridge.Chat{Customer: testUser, ID: "chat-1", Status: bridge.StatusEstablished, Visitor: bridge.Visitor{Language: lang}},
		Events:   evs,
		Key:      fmt.Sprintf("delivery-%d", n),
	}
}

func agentText(s string) bridge.Event { return bridge.Event{Kind: bridge.KindAgentMessage, Text: s} }

func TestPusherAccepts(t *testing.T) {
	p, _ := newTestPusher(t)
	for _, tc := range []struct {
		ev   bridge.Event
		want bool
	}{
		{agentText("hi"), true},
		{agentText("  "), false},
		{bridge.Event{Kind: bridge.KindRequested}, true},
		{bridge.Event{Kind: bridge.KindQueueUpdate}, false},
		{bridge.Event{Kind: bridge.KindQueueUpdate, Position: ptr(2)}, true},
		{bridge.Event{Kind: bridge.KindAgentJoined, AgentName: "Sato"}, true},
		{bridge.Event{Kind: bridge.KindTransferred}, true},
		{bridge.Event{Kind: bridge.KindAgentLeft}, true},
		{bridge.Event{Kind: bridge.KindFileRequested}, true},
		{bridge.Event{Kind: bridge.KindRequestFailed}, true},
		{bridge.Event{Kind: bridge.KindEnded, EndReason: bridge.EndByCustomer}, true},
		{bridge.Event{Kind: bridge.KindAgentTyping}, true},
		{bridge.Event{Kind: bridge.KindAgentNotTyping}, false},
		{bridge.Event{Kind: bridge.KindCustomerMessage, Text: "x"}, false},
		{bridge.Event{Kind: bridge.KindStarted}, false},
		{bridge.Event{Kind: bridge.KindFileResult}, false},
	} {
		if got := p.Accepts(tc.ev); got != tc.want {
			t.Errorf("Accepts(%s %q) = %v, want %v", tc.ev.Kind, tc.ev.Text, got, tc.want)
		}
	}
}

func TestPusherOrderAndNotices(t *testing.T) {
	p, sim := newTestPusher(t)
	d := delivery("",
		bridge.Event{Kind: bridge.KindRequested, Position: ptr(2), Wait: ptr(90)},
		bridge.Event{Kind: bridge.KindAgentJoined, AgentName: "佐藤"},
		agentText("お問い合わせありがとうございます。"),
		bridge.Event{Kind: bridge.KindFileRequested},
		bridge.Event{Kind: bridge.KindEnded, EndReason: bridge.EndDeskError},
	)
	if n := p.Batch(d.Events); n != 5 {
		t.Fatalf("Batch = %d, want 5", n)
	}
	if err := p.Deliver(t.Context(), d); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	snap := sim.Snapshot()
	if len(snap.Pushes) != 1 {
		t.Fatalf("%d push requests, want 1", len(snap.Pushes))
	}
	if got, want := snap.Pushes[0].RetryKey, RetryKey(d.Key, 0); got != want {
		t.Errorf("retry key %q, want %q", got, want)
	}
	got := snap.Texts(testUser)
	if len(got) != 5 {
		t.Fatalf("texts %q", got)
	}
	checks := []func(string) bool{
		func(s string) bool {
			return strings.HasPrefix(s, "接続しました。") && strings.Contains(s, "2番目") && strings.Contains(s, "約2分")
		},
		func(s string) bool { return s == "担当者の佐藤が対応いたします。" },
		func(s string) bool { return s == "お問い合わせありがとうございます。" },
		func(s string) bool { return strings.Contains(s, "ファイル") },
		func(s string) bool { return s == "接続が終了しました。" },
	}
	for i, ok := range checks {
		if !ok(got[i]) {
			t.Errorf("text %d = %q", i, got[i])
		}
	}
}

func TestPusherEndedNoticeEveryReason(t *testing.T) {
	p, sim := newTestPusher(t)
	want := map[bridge.EndReason]string{
		bridge.EndByCustomer:  "You ended the chat. Thank you for contacting us.",
		bridge.EndByAgent:     "The agent ended the chat. Thank you for contacting us.",
		bridge.EndExpired:     "The chat has ended because there was no activity for a while.",
		bridge.EndRequestFail: "No agent is available right now.\nPlease try again later.",
		bridge.EndReplaced:    "The chat has ended.",
	}
	for _, r := range []bridge.EndReason{bridge.EndByCustomer, bridge.EndByAgent, bridge.EndExpired, bridge.EndRequestFail, bridge.EndReplaced} {
		if err := p.Deliver(t.Context(), delivery("en", bridge.Event{Kind: bridge.KindEnded, EndReason: r})); err != nil {
			t.Fatalf("Deliver(%s): %v", r, err)
		}
	}
	got := sim.Snapshot().Texts(testUser)
	var exp []string
	for _, r := range []bridge.EndReason{bridge.EndByCustomer, bridge.EndByAgent, bridge.EndExpired, bridge.EndRequestFail, bridge.EndReplaced} {
		exp = append(exp, want[r])
	}
	if !slices.Equal(got, exp) {
		t.Errorf("texts\n got %q\nwant %q", got, exp)
	}
}

func TestPusherNoticeLanguageConfig(t *testing.T) {
	p, sim := newTestPusher(t, func(c *Config) { c.NoticeLanguage = "en" })
	if err := p.Deliver(t.Context(), delivery("", bridge.Event{Kind: bridge.KindAgentJoined, AgentName: "Sam"})); err != nil {
		t.Fatal(err)
	}
	if err := p.Deliver(t.Context(), delivery("ja", bridge.Event{Kind: bridge.KindAgentJoined, AgentName: "Sam"})); err != nil {
		t.Fatal(err)
	}
	if got, want := sim.Snapshot().Texts(testUser), []string{"Sam will help you now.", "担当者のSamが対応いたします。"}; !slices.Equal(got, want) {
		t.Errorf("texts %q, want %q", got, want)
	}
}

func TestPusherSplitsLongText(t *testing.T) {
	p, sim := newTestPusher(t)
	// 4999 ASCII units, then emoji (2 units each) across the limits.
	long := strings.Repeat("a", 4999) + strings.Repeat("🍎", 4000)
	d := delivery("", agentText(long), agentText("next"))
	if n := p.Batch(d.Events); n != 2 {
		t.Fatalf("Batch = %d, want 2 (3 + 1 messages)", n)
	}
	if err := p.Deliver(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	got := sim.Snapshot().Texts(testUser)
	if len(got) != 4 || got[3] != "next" {
		t.Fatalf("%d texts, last %q", len(got), got[len(got)-1])
	}
	if strings.Join(got[:3], "") != long {
		t.Error("pieces do not add up to the text")
	}
	for i, s := range got[:3] {
		if UTF16Len(s) > MaxTextUnits || strings.ContainsRune(s, '\uFFFD') {
			t.Errorf("piece %d: %d units", i, UTF16Len(s))
		}
	}
}

func TestPusherBatchesFivePerRequest(t *testing.T) {
	p, sim := newTestPusher(t)
	var evs []bridge.Event
	for i := range 7 {
		evs = append(evs, agentText(fmt.Sprintf("m%d", i)))
	}
	evs = append(evs[:3], append([]bridge.Event{{Kind: bridge.KindAgentTyping}}, evs[3:]...)...) // typing costs no message
	if n := p.Batch(evs); n != 6 {
		t.Fatalf("Batch = %d, want 6", n)
	}
	if err := p.Deliver(t.Context(), delivery("", evs[:6]...)); err != nil {
		t.Fatal(err)
	}
	if err := p.Deliver(t.Context(), delivery("", evs[6:]...)); err != nil {
		t.Fatal(err)
	}
	snap := sim.Snapshot()
	if len(snap.Pushes) != 2 || len(snap.Pushes[0].Messages) != 5 || len(snap.Pushes[1].Messages) != 2 {
		t.Fatalf("pushes %+v", snap.Pushes)
	}
	if want := []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6"}; !slices.Equal(snap.Texts(testUser), want) {
		t.Errorf("texts %q", snap.Texts(testUser))
	}
	if len(snap.Loadings) != 0 {
		t.Error("typing followed by a message must not show the animation")
	}
}

func TestPusherVeryLongTextUsesSeveralRequests(t *testing.T) {
	p, sim := newTestPusher(t, func(c *Config) { c.PushAttempts = 1 })
	long := strings.Repeat("あいうえお。", 5000) // 30000 units
	pieces := len(SplitText(long, MaxTextUnits))
	if pieces <= MaxMessagesPerRequest {
		t.Fatalf("only %d pieces", pieces)
	}
	d := delivery("", agentText(long), agentText("after"))
	if n := p.Batch(d.Events); n != 1 {
		t.Fatalf("Batch = %d, want 1", n)
	}
	d.Events = d.Events[:1]
	// The second request fails: the delivery fails, and its retry must not
	// send the first request again.
	sim.Fail(linesim.Push, 1, linesim.Failure{Pass: true})
	sim.Fail(linesim.Push, 1, linesim.Failure{Status: 500})
	if err := p.Deliver(t.Context(), d); err == nil || errors.Is(err, bridge.ErrPermanent) {
		t.Fatalf("Deliver: %v, want a retryable error", err)
	}
	if err := p.Deliver(t.Context(), d); err != nil { // the core's retry
		t.Fatal(err)
	}
	snap := sim.Snapshot()
	if len(snap.Pushes) != 2 || len(snap.Pushes[0].Messages) != 5 || len(snap.Pushes[1].Messages) != pieces-5 {
		t.Fatalf("%d pushes", len(snap.Pushes))
	}
	if snap.Pushes[0].RetryKey != RetryKey(d.Key, 0) || snap.Pushes[1].RetryKey != RetryKey(d.Key, 1) {
		t.Error("request keys not derived from the delivery key and index")
	}
	if n := snap.CallCount(linesim.Push, http.StatusConflict); n != 1 {
		t.Errorf("%d conflicts, want 1 (the first request, already accepted)", n)
	}
	if strings.Join(snap.Texts(testUser), "") != long {
		t.Error("text not delivered whole")
	}
}

func TestPusherRetryKeyStableAcrossRetries(t *testing.T) {
	t.Run("500 then success", func(t *testing.T) {
		p, sim := newTestPusher(t)
		sim.Fail(linesim.Push, 1, linesim.Failure{Status: 500})
		d := delivery("", agentText("hello"))
		if err := p.Deliver(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		snap := sim.Snapshot()
		if len(snap.Calls) != 2 || snap.Calls[0].Status != 500 || snap.Calls[1].Status != 200 {
			t.Fatalf("calls %+v", snap.Calls)
		}
		if snap.Calls[0].RetryKey != snap.Calls[1].RetryKey || snap.Calls[0].RetryKey != RetryKey(d.Key, 0) {
			t.Errorf("keys %q, %q", snap.Calls[0].RetryKey, snap.Calls[1].RetryKey)
		}
		if got := snap.Texts(testUser); !slices.Equal(got, []string{"hello"}) {
			t.Errorf("texts %q", got)
		}
	})
	t.Run("lost success then 409 across deliveries", func(t *testing.T) {
		p, sim := newTestPusher(t, func(c *Config) { c.PushAttempts = 1 })
		sim.Fail(linesim.Push, 1, linesim.Failure{AfterAccept: true, Status: 503})
		d := delivery("", agentText("once"))
		err := p.Deliver(t.Context(), d)
		if err == nil || errors.Is(err, bridge.ErrPermanent) {
			t.Fatalf("first attempt: %v, want a retryable error", err)
		}
		if err := p.Deliver(t.Context(), d); err != nil { // the core's retry
			t.Fatalf("retry: %v", err)
		}
		snap := sim.Snapshot()
		if got := snap.Texts(testUser); !slices.Equal(got, []string{"once"}) {
			t.Errorf("texts %q, want exactly one copy", got)
		}
		if snap.CallCount(linesim.Push, http.StatusConflict) != 1 {
			t.Errorf("calls %+v", snap.Calls)
		}
	})
	t.Run("lost success by timeout", func(t *testing.T) {
		p, sim := newTestPusher(t, func(c *Config) { c.HTTPTimeout = 300 * time.Millisecond })
		sim.Fail(linesim.Push, 1, linesim.Failure{AfterAccept: true, Hang: true})
		if err := p.Deliver(t.Context(), delivery("", agentText("slow"))); err != nil {
			t.Fatal(err)
		}
		snap := sim.Snapshot()
		if got := snap.Texts(testUser); !slices.Equal(got, []string{"slow"}) {
			t.Errorf("texts %q", got)
		}
		if snap.CallCount(linesim.Push, http.StatusConflict) != 1 {
			t.Errorf("calls %+v", snap.Calls)
		}
	})
}

func TestPusherErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failures  int
		status    int
		permanent bool
		calls     int
	}{
		{"429", 3, 429, false, 3},
		{"500", 3, 500, false, 3},
		{"503", 3, 503, false, 3},
		{"400", 1, 400, true, 1},
		{"403", 1, 403, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, sim := newTestPusher(t)
			sim.Fail(linesim.Push, tc.failures, linesim.Failure{Status: tc.status})
			err := p.Deliver(t.Context(), delivery("", agentText("x")))
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, bridge.ErrPermanent) != tc.permanent {
				t.Errorf("permanent = %v, want %v (%v)", !tc.permanent, tc.permanent, err)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Status != tc.status {
				t.Errorf("error %v, want status %d", err, tc.status)
			}
			if n := sim.Snapshot().CallCount(linesim.Push, 0); n != tc.calls {
				t.Errorf("%d calls, want %d", n, tc.calls)
			}
		})
	}
	t.Run("bad token is permanent", func(t *testing.T) {
		p, _ := newTestPusher(t, func(c *Config) { c.ChannelToken = "wrong" })
		if err := p.Deliver(t.Context(), delivery("", agentText("x"))); !errors.Is(err, bridge.ErrPermanent) {
			t.Errorf("error %v, want permanent", err)
		}
	})
	t.Run("cancelled context stops retrying", func(t *testing.T) {
		p, sim := newTestPusher(t)
		p.retryBase = time.Hour
		sim.Fail(linesim.Push, 1, linesim.Failure{Status: 500})
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			_, _ = sim.WaitFor(ctx, func(s linesim.Snapshot) bool { return len(s.Calls) == 1 })
			cancel()
		}()
		err := p.Deliver(ctx, delivery("", agentText("x")))
		if err == nil || errors.Is(err, bridge.ErrPermanent) || !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want a retryable cancellation", err)
		}
	})
}

func TestPusherQueueUpdates(t *testing.T) {
	p, sim := newTestPusher(t)
	req := bridge.Event{ID: "e1", Kind: bridge.KindRequested, Position: ptr(3)}
	same := bridge.Event{ID: "e2", Kind: bridge.KindQueueUpdate, Position: ptr(3)}
	moved := bridge.Event{ID: "e3", Kind: bridge.KindQueueUpdate, Position: ptr(2)}
	transcript := []bridge.Event{req, same, moved}
	withLog := func(d bridge.Delivery) bridge.Delivery {
		d.Transcript = func(ctx context.Context, id bridge.ChatID) ([]bridge.Event, error) { return transcript, nil }
		return d
	}
	for _, d := range []bridge.Delivery{
		withLog(delivery("", same)),  // unchanged: nothing
		withLog(delivery("", moved)), // 3 → 2: notice
	} {
		if err := p.Deliver(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	// Superseded by a later event of the same delivery.
	if err := p.Deliver(t.Context(), delivery("",
		bridge.Event{Kind: bridge.KindQueueUpdate, Position: ptr(1)},
		bridge.Event{Kind: bridge.KindAgentJoined})); err != nil {
		t.Fatal(err)
	}
	got := sim.Snapshot().Texts(testUser)
	if want := []string{"現在の順番: 2番目です。", "担当者が対応いたします。"}; !slices.Equal(got, want) {
		t.Errorf("texts %q, want %q", got, want)
	}
}

func TestPusherLoadingAnimation(t *testing.T) {
	p, sim := newTestPusher(t)
	var mu sync.Mutex
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	p.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	typing := func() bridge.Delivery { return delivery("", bridge.Event{Kind: bridge.KindAgentTyping}) }

	for range 3 {
		if err := p.Deliver(t.Context(), typing()); err != nil {
			t.Fatal(err)
		}
	}
	advance(4 * time.Second)
	_ = p.Deliver(t.Context(), typing())
	if n := len(sim.Snapshot().Loadings); n != 1 {
		t.Fatalf("%d animations within 5 s, want 1", n)
	}
	advance(time.Second)
	_ = p.Deliver(t.Context(), typing())
	snap := sim.Snapshot()
	if len(snap.Loadings) != 2 || snap.Loadings[1].Seconds != DefaultLoadingSeconds || snap.Loadings[1].ChatID != testUser {
		t.Fatalf("loadings %+v", snap.Loadings)
	}
	if len(snap.Pushes) != 0 {
		t.Error("typing pushed a message")
	}
	// A failing animation never fails the delivery.
	advance(time.Minute)
	sim.Fail(linesim.Loading, 1, linesim.Failure{Status: 500})
	if err := p.Deliver(t.Context(), typing()); err != nil {
		t.Errorf("Deliver: %v", err)
	}
	// A message then typing: message pushed, animation shown.
	advance(time.Minute)
	if err := p.Deliver(t.Context(), delivery("", agentText("a"), bridge.Event{Kind: bridge.KindAgentTyping})); err != nil {
		t.Fatal(err)
	}
	if snap := sim.Snapshot(); len(snap.Loadings) != 3 || len(snap.Pushes) != 1 {
		t.Errorf("%d loadings, %d pushes", len(snap.Loadings), len(snap.Pushes))
	}
}

func TestPusherLoadingSecondsConfig(t *testing.T) {
	for in, want := range map[int]int{0: 20, 1: 5, 5: 5, 7: 10, 60: 60, 99: 60} {
		if got := (Config{LoadingSeconds: in}).WithDefaults().LoadingSeconds; got != want {
			t.Errorf("LoadingSeconds %d → %d, want %d", in, got, want)
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRetryKey(t *testing.T) {
	k := RetryKey("chat-1/5-9", 0)
	if !uuidRE.MatchString(k) {
		t.Errorf("%q is not a version 5 UUID", k)
	}
	if RetryKey("chat-1/5-9", 0) != k {
		t.Error("not deterministic")
	}
	seen := map[string]bool{k: true}
	for _, other := range []string{RetryKey("chat-1/5-9", 1), RetryKey("chat-1/5-10", 0), RetryKey("chat-1/5-9\x001", 0)} {
		if seen[other] {
			t.Errorf("collision %q", other)
		}
		seen[other] = true
	}
}

func TestNewPusherNeedsToken(t *testing.T) {
	if _, err := NewPusher(Config{}, nil); err == nil {
		t.Error("NewPusher without token succeeded")
	}
	if _, err := NewPusher(Config{ChannelToken: "x", NoticeLanguage: "fr"}, nil); err == nil {
		t.Error("unknown notice language accepted")
	}
}

func BenchmarkPusherDeliver(b *testing.B) {
	sim := linesim.New(testToken)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	p, err := NewPusher(Config{ChannelToken: testToken, APIBaseURL: srv.URL}, nil)
	if err != nil {
		b.Fatal(err)
	}
	evs := []bridge.Event{agentText("こんにちは、担当の佐藤です。"), {Kind: bridge.KindAgentJoined, AgentName: "佐藤"}}
	i := 0
	for b.Loop() {
		i++
		d := bridge.Delivery{Customer: testUser, Events: evs, Key: fmt.Sprintf("bench-%d", i)}
		if err := p.Deliver(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
}
