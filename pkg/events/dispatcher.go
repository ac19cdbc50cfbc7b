package events

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options are the dispatcher's collaborators. Every field is optional.
type Options struct {
	// Logger receives one line per failed attempt and per state change.
	Logger *slog.Logger
	// Transport returns the round tripper for an endpoint. The default is
	// NewTransport(ep.AllowPrivate), which refuses private addresses at
	// dial time; a replacement takes that duty over.
	Transport func(ep Endpoint) http.RoundTripper
	// Now is the clock (time.Now by default). It stamps attempts, leases
	// and schedules; a receiver checks webhook-timestamp against its own.
	Now func() time.Time
	// Instance names this process in lease tokens (default host-pid-random).
	Instance string
}

// Dispatcher delivers the queued events. One per process; any number of
// processes share the queue.
type Dispatcher struct {
	cfg      Config
	q        *queue
	log      *slog.Logger
	now      func() time.Time
	eps      map[string]*endpointRT
	order    []*endpointRT
	wake     chan struct{}
	instance string
	seq      atomic.Uint64
	running  atomic.Bool
}

// endpointRT is an endpoint with what sending to it needs.
type endpointRT struct {
	Endpoint
	key    []byte
	client *http.Client
}

// Attempt is one entry of an endpoint's delivery log.
type Attempt struct {
	Time           time.Time  `json:"time"`
	Endpoint       string     `json:"endpoint"`
	DeliveryID     string     `json:"delivery_id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	Customer       string     `json:"customer,omitempty"` // LINE user id (Chat Dealer's "visitor IP")
	Attempt        int        `json:"attempt"`
	Success        bool       `json:"success"`
	Status         string     `json:"status"` // success or failure
	HTTPStatus     int        `json:"http_status,omitempty"`
	LatencyMS      int64      `json:"latency_ms"`
	Response       string     `json:"response,omitempty"` // at most 512 bytes of the answer
	Error          string     `json:"error,omitempty"`
	DeliveryStatus string     `json:"delivery_status"` // retrying, succeeded or failed
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
}

// responseExcerpt is how much of an answer the log keeps.
const responseExcerpt = 512

// New builds a dispatcher. cfg gets its defaults and is validated.
func New(rdb redis.UniversalClient, cfg Config, opts Options) (*Dispatcher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rdb == nil {
		return nil, errors.New("events: a Redis client is required")
	}
	d := &Dispatcher{
		cfg: cfg, log: opts.Logger, now: opts.Now, instance: opts.Instance,
		q:    &queue{rdb: rdb, p: "{" + cfg.KeyPrefix + "}:", retention: cfg.Retention, logSize: cfg.LogSize},
		eps:  map[string]*endpointRT{},
		wake: make(chan struct{}, cfg.Workers),
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.instance == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		d.instance = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	for _, ep := range cfg.Endpoints {
		key, _ := secretKey(ep.Secret) // validated above
		var rt http.RoundTripper
		if opts.Transport != nil {
			rt = opts.Transport(ep)
		}
		if rt == nil {
			rt = NewTransport(ep.AllowPrivate)
		}
		e := &endpointRT{Endpoint: ep, key: key, client: newClient(rt, ep.Timeout)}
		d.eps[ep.Name] = e
		d.order = append(d.order, e)
	}
	return d, nil
}

// Run attempts due deliveries with Config.Workers goroutines until ctx ends,
// then waits for them and returns nil. An attempt cut short by ctx is handed
// back to the queue (not counted). Run may be called once.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("events: Dispatcher.Run called twice")
	}
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Go(func() { d.worker(ctx) })
	}
	wg.Wait()
	return nil
}

func (d *Dispatcher) worker(ctx context.Context) {
	for ctx.Err() == nil {
		c, err := d.q.claim(ctx, d.now(), d.cfg.Lease, d.instance+"-"+strconv.FormatUint(d.seq.Add(1), 10))
		switch {
		case err != nil:
			if ctx.Err() == nil {
				d.log.WarnContext(ctx, "events: claim failed", "err", err)
			}
			d.idle(ctx, false)
		case c == nil:
			d.idle(ctx, true)
		default:
			d.process(ctx, c)
		}
	}
}

// idle waits for a wake-up, the next due delivery or the poll interval.
func (d *Dispatcher) idle(ctx context.Context, askDue bool) {
	wait := d.cfg.PollInterval
	if askDue {
		if t, ok, err := d.q.nextDue(ctx); err == nil && ok {
			wait = min(wait, max(t.Sub(d.now()), time.Millisecond))
		}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-d.wake:
	case <-t.C:
	}
}

// notify wakes idle workers of this process after an enqueue.
func (d *Dispatcher) notify(n int) {
	for range min(n, cap(d.wake)) {
		select {
		case d.wake <- struct{}{}:
		default:
			return
		}
	}
}

// outcome is what an attempt leads to.
type outcome struct {
	status  string // StatusSucceeded, StatusRetrying, StatusFailed, or "release"
	at      time.Time
	code    int
	errText string
}

func (d *Dispatcher) process(ctx context.Context, c *claimed) {
	// Finishing touches must survive shutdown.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	f, rec, err := d.q.load(fctx, c.ID)
	if err != nil {
		d.log.WarnContext(ctx, "events: load delivery failed", "delivery", c.ID, "err", err)
		d.finish(fctx, c, outcome{status: "release", at: d.now()})
		return
	}
	a := Attempt{
		Time: d.now().UTC(), Endpoint: f["endpoint"], DeliveryID: c.ID, EventID: f["event"],
		EventType: f["type"], Customer: f["customer"], Attempt: c.Attempt,
	}
	ep := d.eps[a.Endpoint]
	var o outcome
	switch {
	case ep == nil:
		o = outcome{status: StatusFailed, errText: "endpoint is no longer configured"}
	case rec == nil:
		o = outcome{status: StatusFailed, errText: "event expired before it could be delivered"}
	case !ep.Enabled && rec.Type != TypeWebhookTest:
		o = outcome{status: StatusFailed, errText: "endpoint is switched off in the configuration (enabled: false)"}
	default:
		o = d.attempt(ctx, ep, rec, c, &a)
	}
	if o.status == "release" {
		d.finish(fctx, c, o)
		return
	}
	a.Success = o.status == StatusSucceeded
	a.Status, a.DeliveryStatus, a.Error = "failure", o.status, o.errText
	if a.Success {
		a.Status = "success"
	}
	if o.status == StatusRetrying {
		t := o.at.UTC()
		a.NextAttemptAt = &t
	}
	if err := d.q.logAttempt(fctx, a); err != nil {
		d.log.WarnContext(ctx, "events: delivery log write failed", "err", err)
	}
	if !a.Success {
		d.log.InfoContext(ctx, "events: delivery attempt failed", "endpoint", a.Endpoint, "delivery", a.DeliveryID,
			"event_type", a.EventType, "attempt", a.Attempt, "http_status", a.HTTPStatus, "err", a.Error, "next", o.status)
	}
	if ep != nil && o.code == http.StatusGone {
		// Before the lane moves on, so its next event is parked, not sent.
		d.disable(fctx, ep.Name, "the receiver answered 410 Gone", o.code)
	}
	d.finish(fctx, c, o)
}

func (d *Dispatcher) finish(ctx context.Context, c *claimed, o outcome) {
	now := d.now()
	if o.at.IsZero() {
		o.at = now
	}
	ok, err := d.q.complete(ctx, c, o.status, o.at, now, o.code, o.errText)
	if err != nil {
		d.log.WarnContext(ctx, "events: completing a delivery failed; its lease will expire", "delivery", c.ID, "err", err)
	} else if !ok {
		d.log.InfoContext(ctx, "events: lease lost during an attempt", "delivery", c.ID)
	}
}

// attempt makes one HTTP request and decides what follows.
func (d *Dispatcher) attempt(ctx context.Context, ep *endpointRT, rec *record, c *claimed, a *Attempt) outcome {
	body, err := render(rec, &ep.Endpoint, ep.key)
	if err != nil || body == nil {
		return outcome{status: StatusFailed, errText: fmt.Sprintf("format %s cannot render %s: %v", ep.Format, rec.Type, err)}
	}
	now := d.now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{status: StatusFailed, errText: err.Error()}
	}
	req.Header.Set("User-Agent", d.cfg.UserAgent)
	for k, v := range ep.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Bridge-Event-Type", rec.Type)
	setSignatureHeaders(req.Header, ep.Format, ep.key, rec.ID, c.ID, now.Unix(), body)

	start := time.Now()
	resp, err := ep.client.Do(req)
	a.LatencyMS = time.Since(start).Milliseconds()
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return outcome{status: "release"}
		case errors.Is(err, ErrPrivateAddress):
			return outcome{status: StatusFailed, errText: err.Error() + " (set allow_private for an internal receiver)"}
		}
		return d.retry(c, nil, 0, err.Error())
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, responseExcerpt+1))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.HTTPStatus, a.Response = resp.StatusCode, excerpt(b, responseExcerpt)
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return outcome{status: StatusSucceeded, code: code}
	case code == http.StatusGone:
		return outcome{status: StatusFailed, code: code, errText: "410 Gone: endpoint disabled"}
	case code >= 300 && code < 400 && appsScriptAck(req.URL, resp):
		return outcome{status: StatusSucceeded, code: code}
	case code >= 300 && code < 400:
		return d.retry(c, nil, code, fmt.Sprintf("redirect %d not followed (Location: %s)", code, resp.Header.Get("Location")))
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return d.retry(c, resp.Header, code, "HTTP "+strconv.Itoa(code))
	}
	return d.retry(c, nil, code, "HTTP "+strconv.Itoa(code))
}

// retry schedules the next attempt, or gives up when the schedule is done.
// A Retry-After header (429, 503) replaces the scheduled delay.
func (d *Dispatcher) retry(c *claimed, h http.Header, code int, errText string) outcome {
	if c.Attempt >= len(d.cfg.Schedule) {
		return outcome{status: StatusFailed, code: code, errText: errText + fmt.Sprintf("; gave up after %d attempts", c.Attempt)}
	}
	now := d.now()
	delay := d.cfg.Schedule[c.Attempt]
	if delay > 0 {
		delay += time.Duration(mrand.Int64N(int64(delay)/5 + 1)) // up to 20% jitter
	}
	if ra, ok := retryAfter(h, now); ok && h != nil {
		delay = min(ra, d.cfg.MaxRetryAfter)
	}
	return outcome{status: StatusRetrying, at: now.Add(delay), code: code, errText: errText}
}

// disable turns an endpoint off (until enabled again) and tells the other
// endpoints with an endpoint.disabled event.
func (d *Dispatcher) disable(ctx context.Context, name, reason string, code int) {
	now := d.now().UTC()
	changed, err := d.q.disable(ctx, name, reason, now)
	if err != nil {
		d.log.WarnContext(ctx, "events: disabling an endpoint failed", "endpoint", name, "err", err)
		return
	}
	if !changed {
		return
	}
	d.log.WarnContext(ctx, "events: endpoint disabled", "endpoint", name, "reason", reason)
	rec := &record{
		ID:   "evt_" + hashID(TypeEndpointDisabled, name, strconv.FormatInt(now.UnixMilli(), 10)),
		Type: TypeEndpointDisabled, Time: now, Endpoint: name, Reason: reason, StatusCode: code,
	}
	var ds []dlvSpec
	for _, ep := range d.order {
		if ep.Name != name && ep.Enabled && ep.subscribed(rec.Type) && supports(ep.Format, rec.Type) {
			ds = append(ds, specFor(rec, ep.Name))
		}
	}
	if n, err := d.q.enqueue(ctx, now, []*record{rec}, ds); err != nil {
		d.log.WarnContext(ctx, "events: enqueueing endpoint.disabled failed", "err", err)
	} else {
		d.notify(n)
	}
}

func specFor(rec *record, endpoint string) dlvSpec {
	return dlvSpec{
		ID: deliveryID(rec.ID, endpoint), Lane: rec.lane(endpoint), Endpoint: endpoint,
		EventID: rec.ID, Type: rec.Type, Customer: string(rec.Customer),
	}
}
