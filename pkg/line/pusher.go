package line

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/line/line-bot-sdk-go/v8/linebot/messaging_api"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// PushSinkName is the cursor name of the Pusher; it never changes.
const PushSinkName = "line_push"

// Pusher is the [bridge.Sink] that pushes a chat's desk events to the LINE
// user: agent texts (split at 5000 UTF-16 units), and notices rendered from
// the templates (queued, queue position, agent joined, transferred, agent
// disconnected, file requested, request failed, ended). Agent typing shows
// LINE's loading animation instead of a message.
//
// Every delivery sends at most MaxMessagesPerRequest messages per push
// request, each request carrying an X-Line-Retry-Key derived from
// Delivery.Key and the request's index, so a retried delivery — even after
// a restart — never shows a message twice. Batch makes a delivery a single
// request, except for an agent text too long for one request.
//
// The customer gets a "chat ended" notice whatever ended the chat, also when
// they ended it themselves (end keyword, postback, /close): the notice
// confirms the end and tells them the bot is answering again.
type Pusher struct {
	cfg       Config
	c         *client
	notices   *Notices
	log       *slog.Logger
	now       func() time.Time
	retryBase time.Duration

	mu     sync.Mutex
	typing map[bridge.CustomerID]time.Time // last loading animation per user
}

var _ bridge.Sink = (*Pusher)(nil)

// NewPusher returns a Pusher. cfg needs ChannelToken; zero fields take their
// defaults. log may be nil (logs are discarded).
func NewPusher(cfg Config, log *slog.Logger) (*Pusher, error) {
	cfg = cfg.WithDefaults()
	if cfg.ChannelToken == "" {
		return nil, errors.New("line: pusher: channel access token missing")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n, err := DefaultNotices()
	if err != nil {
		return nil, err
	}
	return &Pusher{
		cfg: cfg, c: newClient(cfg, nil), notices: n, log: orDiscard(log),
		now: time.Now, retryBase: 200 * time.Millisecond,
		typing: make(map[bridge.CustomerID]time.Time),
	}, nil
}

// Name implements bridge.Sink.
func (p *Pusher) Name() string { return PushSinkName }

// Accepts implements bridge.Sink: the desk events the customer should see.
// Queue updates are accepted when they carry a position; Deliver drops the
// ones that do not change it.
func (p *Pusher) Accepts(ev bridge.Event) bool {
	switch ev.Kind {
	case bridge.KindAgentMessage:
		return strings.TrimSpace(ev.Text) != ""
	case bridge.KindQueueUpdate:
		return ev.Position != nil
	case bridge.KindRequested, bridge.KindAgentJoined, bridge.KindTransferred, bridge.KindAgentLeft,
		bridge.KindFileRequested, bridge.KindRequestFailed, bridge.KindEnded, bridge.KindAgentTyping:
		return true
	}
	return false
}

// Batch implements bridge.Sink: as many events as fit into one push request
// (at most MaxMessagesPerRequest messages), and always at least one.
func (p *Pusher) Batch(evs []bridge.Event) int {
	total := 0
	for i, ev := range evs {
		n := messageCount(ev)
		if i > 0 && total+n > MaxMessagesPerRequest {
			return i
		}
		total += n
	}
	return len(evs)
}

// messageCount is how many messages ev can become (an upper bound).
func messageCount(ev bridge.Event) int {
	switch ev.Kind {
	case bridge.KindAgentTyping:
		return 0
	case bridge.KindAgentMessage:
		if UTF16Len(ev.Text) <= MaxTextUnits {
			return 1
		}
		return len(SplitText(ev.Text, MaxTextUnits))
	}
	return 1
}

// Deliver implements bridge.Sink. Errors wrapping bridge.ErrPermanent (400,
// 401, 403 …) must not be retried; others (429, 5xx, timeouts) may be.
func (p *Pusher) Deliver(ctx context.Context, d bridge.Delivery) error {
	if len(d.Events) == 0 {
		return nil
	}
	lang := p.notices.pick(d.Chat.Visitor.Language, p.cfg.NoticeLanguage)
	texts := p.texts(ctx, d, lang)
	for i := 0; i*MaxMessagesPerRequest < len(texts); i++ {
		chunk := texts[i*MaxMessagesPerRequest : min(len(texts), (i+1)*MaxMessagesPerRequest)]
		if err := p.push(ctx, d.Customer, chunk, RetryKey(d.Key, i)); err != nil {
			return err
		}
	}
	if d.Events[len(d.Events)-1].Kind == bridge.KindAgentTyping {
		p.showLoading(ctx, d.Customer)
	}
	return nil
}

// texts turns the delivery's events into message texts, in order.
func (p *Pusher) texts(ctx context.Context, d bridge.Delivery, lang string) []string {
	var out []string
	var lastPos *int // last known queue position
	posKnown := false
	for i, ev := range d.Events {
		var key NoticeKey
		var data NoticeData
		switch ev.Kind {
		case bridge.KindAgentMessage:
			out = append(out, SplitText(ev.Text, MaxTextUnits)...)
			continue
		case bridge.KindRequested:
			key, data = NoticeQueued, queueData(ev)
			lastPos, posKnown = ev.Position, true
		case bridge.KindQueueUpdate:
			if supersededQueue(d.Events[i+1:]) {
				continue
			}
			if !posKnown {
				lastPos, posKnown = p.previousPosition(ctx, d), true
			}
			same := lastPos != nil && ev.Position != nil && *lastPos == *ev.Position
			lastPos = ev.Position
			if same {
				continue
			}
			key, data = NoticeQueueUpdate, queueData(ev)
		case bridge.KindAgentJoined:
			key, data = NoticeAgentJoined, NoticeData{Name: ev.AgentName}
		case bridge.KindTransferred:
			key, data = NoticeTransferred, NoticeData{Name: ev.AgentName}
		case bridge.KindAgentLeft:
			key = NoticeAgentLeft
		case bridge.KindFileRequested:
			key = NoticeFileRequested
		case bridge.KindRequestFailed:
			key = NoticeRequestFailed
		case bridge.KindEnded:
			key = endedNotice(ev.EndReason)
		default:
			continue
		}
		text, err := p.notices.Render(lang, key, data)
		if err != nil || text == "" {
			p.log.ErrorContext(ctx, "line notice not rendered", "customer", d.Customer, "notice", key, "error", err)
			continue
		}
		out = append(out, text)
	}
	return out
}

func endedNotice(r bridge.EndReason) NoticeKey {
	switch r {
	case bridge.EndByCustomer:
		return NoticeEndedByCustomer
	case bridge.EndByAgent:
		return NoticeEndedByAgent
	case bridge.EndExpired:
		return NoticeEndedExpired
	case bridge.EndRequestFail, bridge.EndStartFailed:
		return NoticeRequestFailed
	}
	return NoticeEnded
}

func queueData(ev bridge.Event) NoticeData {
	var d NoticeData
	if ev.Position != nil {
		d.HasPosition, d.Position = true, *ev.Position
	}
	if ev.Wait != nil && *ev.Wait > 0 {
		d.WaitMinutes = (*ev.Wait + 59) / 60
	}
	return d
}

// supersededQueue reports whether a later event of the delivery makes a
// queue notice pointless.
func supersededQueue(later []bridge.Event) bool {
	for _, ev := range later {
		switch ev.Kind {
		case bridge.KindQueueUpdate, bridge.KindRequested, bridge.KindAgentJoined,
			bridge.KindRequestFailed, bridge.KindEnded:
			return true
		}
	}
	return false
}

// previousPosition finds the queue position the customer last saw before
// the delivery, from the transcript; nil when unknown.
func (p *Pusher) previousPosition(ctx context.Context, d bridge.Delivery) *int {
	if d.Transcript == nil {
		return nil
	}
	tctx, cancel := context.WithTimeout(ctx, p.cfg.HTTPTimeout)
	defer cancel()
	evs, err := d.Transcript(tctx, d.Chat.ID)
	if err != nil {
		p.log.DebugContext(ctx, "line transcript unavailable", "customer", d.Customer, "error", err)
		return nil
	}
	first := d.Events[0].ID
	var pos *int
	for _, ev := range evs {
		if ev.ID == first {
			return pos
		}
		if (ev.Kind == bridge.KindRequested || ev.Kind == bridge.KindQueueUpdate) && ev.Position != nil {
			pos = ev.Position
		}
	}
	return nil
}

// push sends one push request, retrying 429, 5xx and timeouts a few times
// with jittered backoff under the same retry key.
func (p *Pusher) push(ctx context.Context, to bridge.CustomerID, texts []string, key string) error {
	msgs := make([]messaging_api.MessageInterface, len(texts))
	for i, t := range texts {
		msgs[i] = messaging_api.TextMessage{Text: t}
	}
	var err error
	for attempt := 1; attempt <= p.cfg.PushAttempts; attempt++ {
		if attempt > 1 {
			if berr := backoff(ctx, p.retryBase, attempt-1); berr != nil {
				return fmt.Errorf("line: push: %w (after %w)", berr, err)
			}
		}
		err = p.pushOnce(ctx, to, msgs, key)
		if !retryable(err) {
			return err
		}
		p.log.DebugContext(ctx, "line push failed", "customer", to, "attempt", attempt, "timeout", isTimeout(err), "error", err)
	}
	return err
}

func (p *Pusher) pushOnce(ctx context.Context, to bridge.CustomerID, msgs []messaging_api.MessageInterface, key string) error {
	cctx, cancel := context.WithTimeout(ctx, p.cfg.HTTPTimeout)
	defer cancel()
	api, err := p.c.messaging(cctx)
	if err != nil {
		return fmt.Errorf("line: push: %w: %w", bridge.ErrPermanent, err)
	}
	res, _, err := api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: string(to), Messages: msgs}, key)
	if res != nil && res.StatusCode == http.StatusConflict {
		// Accepted by an earlier attempt whose answer was lost.
		p.log.DebugContext(ctx, "line push already accepted", "customer", to,
			"accepted_request_id", res.Header.Get("X-Line-Accepted-Request-Id"))
		return nil
	}
	if err := callError("push", res, err); err != nil {
		return err
	}
	p.log.DebugContext(ctx, "line push sent", "customer", to, "messages", len(msgs))
	return nil
}

// showLoading starts the loading animation, at most once per TypingInterval
// per user. It never fails: the animation is cosmetic.
func (p *Pusher) showLoading(ctx context.Context, c bridge.CustomerID) {
	now := p.now()
	p.mu.Lock()
	if last, ok := p.typing[c]; ok && now.Sub(last) < p.cfg.TypingInterval {
		p.mu.Unlock()
		return
	}
	p.typing[c] = now
	if len(p.typing) > 4096 {
		for k, t := range p.typing {
			if now.Sub(t) >= p.cfg.TypingInterval {
				delete(p.typing, k)
			}
		}
	}
	p.mu.Unlock()

	cctx, cancel := context.WithTimeout(ctx, p.cfg.HTTPTimeout)
	defer cancel()
	api, err := p.c.messaging(cctx)
	if err == nil {
		var res *http.Response
		res, _, err = api.ShowLoadingAnimationWithHttpInfo(&messaging_api.ShowLoadingAnimationRequest{
			ChatId: string(c), LoadingSeconds: int32(p.cfg.LoadingSeconds)})
		err = callError("loading", res, err)
	}
	if err != nil {
		p.log.DebugContext(ctx, "line loading animation failed", "customer", c, "error", err)
	}
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
