package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

// Limits of the customer API.
const (
	maxRequestBytes = 64 << 10
	maxTextRunes    = 5000 // LINE's limit for a text message
	maxPostbackLen  = 300  // LINE's limit for postback data
	maxNameRunes    = 40
	maxSentPerUser  = 500
	maxUsers        = 1000
)

// userRE is a LINE user id: U and 32 lowercase hex digits.
var userRE = regexp.MustCompile(`^U[0-9a-f]{32}$`)

var (
	digitsRE = regexp.MustCompile(`^[0-9]{1,12}$`)
	langRE   = regexp.MustCompile(`^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$`)
)

// Default sticker: LINE's basic "Brown & Cony" package.
const (
	defaultStickerPackage = "446"
	defaultStickerID      = "1988"
)

// Item is one entry of a customer's conversation as their phone shows it.
type Item struct {
	ID  string `json:"id"`  // "s<n>" sent by the user, "r<n>" received
	Dir string `json:"dir"` // "out": the user sent it; "in": the user received it
	// Kind is text, sticker, image or postback for "out"; the message type
	// (text …) for "in".
	Kind string `json:"kind"`
	// From is, for "in", "agent" (the agent's words) or "bot" (notices and
	// bot replies); Name is then the agent's name.
	From    string    `json:"from,omitempty"`
	Name    string    `json:"name,omitempty"`
	Text    string    `json:"text,omitempty"`
	Sticker string    `json:"sticker,omitempty"` // sticker id ("out" stickers)
	Via     string    `json:"via,omitempty"`     // "in": push or reply
	At      time.Time `json:"at"`
	// Status is, for "out", the webhook's HTTP status (0 while in flight,
	// -1 when the webhook could not be reached).
	Status int `json:"status,omitempty"`
	// Read is true once the bridge marked the message as read (the agent
	// has it), as LINE shows 既読.
	Read bool `json:"read,omitempty"`
}

// Loading is the latest loading animation shown to a user.
type Loading struct {
	At      time.Time `json:"at"`
	Seconds int       `json:"seconds"`
}

// Timeline is a customer's conversation.
type Timeline struct {
	User    string   `json:"user"`
	Items   []Item   `json:"items"`
	Loading *Loading `json:"loading,omitempty"`
}

type sentItem struct {
	Item
	readToken string
}

// sentLog remembers what each demo user sent (LINE keeps no record of the
// user's own messages for the bot).
type sentLog struct {
	mu      sync.Mutex
	users   map[string][]*sentItem
	order   []string // users, oldest first
	seq     int64
	changed chan struct{}
}

func newSentLog() *sentLog {
	return &sentLog{users: make(map[string][]*sentItem), changed: make(chan struct{})}
}

// add records an item and returns its id.
func (l *sentLog) add(user string, it Item, readToken string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.users[user]; !ok {
		l.order = append(l.order, user)
		if len(l.order) > maxUsers {
			delete(l.users, l.order[0])
			l.order = l.order[1:]
		}
	}
	l.seq++
	it.ID = "s" + strconv.FormatInt(l.seq, 10)
	items := append(l.users[user], &sentItem{Item: it, readToken: readToken})
	if len(items) > maxSentPerUser {
		items = items[len(items)-maxSentPerUser:]
	}
	l.users[user] = items
	l.changedLocked()
	return it.ID
}

// setStatus records the webhook's answer to item id.
func (l *sentLog) setStatus(user, id string, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, it := range l.users[user] {
		if it.ID == id {
			it.Status = status
			l.changedLocked()
			return
		}
	}
}

func (l *sentLog) changedLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// get returns copies of the user's items and the channel closed on the next
// change.
func (l *sentLog) get(user string) ([]sentItem, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]sentItem, 0, len(l.users[user]))
	for _, it := range l.users[user] {
		out = append(out, *it)
	}
	return out, l.changed
}

type customerAPI struct {
	o    Options
	sent *sentLog
}

func newCustomerAPI(o Options) *customerAPI { return &customerAPI{o: o, sent: newSentLog()} }

var errLINEOff = errors.New("the stand-in LINE platform is off (real LINE credentials are configured), so the customer pane cannot work")

func (a *customerAPI) ready(c echo.Context) (string, error) {
	if a.o.LINE == nil {
		return "", jsonError(c, http.StatusServiceUnavailable, errLINEOff.Error())
	}
	user := c.Param("user")
	if !userRE.MatchString(user) {
		return "", jsonError(c, http.StatusBadRequest, "user must be a LINE user id: U followed by 32 lowercase hex digits")
	}
	return user, nil
}

// jsonError answers {"error": msg} and returns errAnswered.
func jsonError(c echo.Context, status int, msg string) error {
	writeJSON(c.Response(), status, errorBody{Error: msg})
	return errAnswered
}

// errAnswered means the handler has written its answer; handlers return nil
// for it.
var errAnswered = errors.New("answered")

func handled(err error) error {
	if errors.Is(err, errAnswered) {
		return nil
	}
	return err
}

// decodeStrict decodes a JSON object of at most maxRequestBytes, refusing
// unknown fields and trailing data.
func decodeStrict(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		return fmt.Errorf("cannot read the body: %v", err)
	}
	if len(b) > maxRequestBytes {
		return fmt.Errorf("body larger than %d bytes", maxRequestBytes)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("empty body: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %v", err)
	}
	if dec.More() {
		return errors.New("bad JSON: data after the object")
	}
	return nil
}

type createRequest struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	User     string `json:"user"` // optional: keep this id (a page reload)
}

type createResponse struct {
	User     string `json:"user"`
	Name     string `json:"name"`
	Language string `json:"language,omitempty"`
}

// create makes a demo LINE user: its id and its profile in the stand-in
// LINE platform (which the bridge reads for the visitor name).
func (a *customerAPI) create(c echo.Context) error {
	if a.o.LINE == nil {
		return handled(jsonError(c, http.StatusServiceUnavailable, errLINEOff.Error()))
	}
	var in createRequest
	if err := decodeStrict(c.Request(), &in); err != nil {
		return handled(jsonError(c, http.StatusBadRequest, err.Error()))
	}
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "":
		return handled(jsonError(c, http.StatusBadRequest, "name is required"))
	case utf8.RuneCountInString(name) > maxNameRunes:
		return handled(jsonError(c, http.StatusBadRequest, fmt.Sprintf("name is longer than %d characters", maxNameRunes)))
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return handled(jsonError(c, http.StatusBadRequest, "name has control characters"))
	case in.Language != "" && !langRE.MatchString(in.Language):
		return handled(jsonError(c, http.StatusBadRequest, "language must be a language tag such as ja or en"))
	case in.User != "" && !userRE.MatchString(in.User):
		return handled(jsonError(c, http.StatusBadRequest, "user must be a LINE user id: U followed by 32 lowercase hex digits"))
	}
	user := in.User
	if user == "" {
		user = NewUserID()
	}
	a.o.LINE.SetProfile(user, name, in.Language)
	return c.JSON(http.StatusOK, createResponse{User: user, Name: name, Language: in.Language})
}

// NewUserID returns a random LINE-like user id.
func NewUserID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "U" + hex.EncodeToString(b)
}

// SendRequest is the body of POST /demo/api/customer/{user}/send: exactly
// one field.
type SendRequest struct {
	Text     *string      `json:"text,omitempty"`
	Sticker  *StickerSpec `json:"sticker,omitempty"`
	Image    *bool        `json:"image,omitempty"`
	Postback *string      `json:"postback,omitempty"`
}

// StickerSpec picks a sticker; empty fields take the defaults.
type StickerSpec struct {
	PackageID string `json:"packageId"`
	StickerID string `json:"stickerId"`
}

// SendResponse answers a send.
type SendResponse struct {
	ID             string `json:"id"`               // the timeline item
	WebhookEventID string `json:"webhook_event_id"` // of the event posted
	WebhookStatus  int    `json:"webhook_status"`   // the bridge's answer
	OK             bool   `json:"ok"`               // WebhookStatus is 2xx
}

// event builds the webhook event of a send and its timeline item.
func (in SendRequest) event(user string) (linesim.Event, Item, error) {
	n := 0
	for _, set := range []bool{in.Text != nil, in.Sticker != nil, in.Image != nil, in.Postback != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, Item{}, errors.New("send exactly one of text, sticker, image, postback")
	}
	it := Item{Dir: "out", At: time.Now()}
	switch {
	case in.Text != nil:
		t := *in.Text
		switch {
		case strings.TrimSpace(t) == "":
			return nil, Item{}, errors.New("text is empty")
		case utf8.RuneCountInString(t) > maxTextRunes:
			return nil, Item{}, fmt.Errorf("text is longer than %d characters", maxTextRunes)
		case !utf8.ValidString(t):
			return nil, Item{}, errors.New("text is not valid UTF-8")
		}
		it.Kind, it.Text = "text", t
		return linesim.Text(user, t), it, nil
	case in.Sticker != nil:
		p, s := in.Sticker.PackageID, in.Sticker.StickerID
		if p == "" {
			p = defaultStickerPackage
		}
		if s == "" {
			s = defaultStickerID
		}
		if !digitsRE.MatchString(p) || !digitsRE.MatchString(s) {
			return nil, Item{}, errors.New("sticker packageId and stickerId must be numbers")
		}
		it.Kind, it.Sticker = "sticker", s
		return linesim.Sticker(user, p, s), it, nil
	case in.Image != nil:
		if !*in.Image {
			return nil, Item{}, errors.New("image must be true")
		}
		it.Kind = "image"
		return linesim.Image(user), it, nil
	default:
		d := *in.Postback
		switch {
		case d == "":
			return nil, Item{}, errors.New("postback data is empty")
		case len(d) > maxPostbackLen:
			return nil, Item{}, fmt.Errorf("postback data is longer than %d bytes", maxPostbackLen)
		case !utf8.ValidString(d):
			return nil, Item{}, errors.New("postback data is not valid UTF-8")
		}
		it.Kind, it.Text = "postback", d
		return linesim.Postback(user, d), it, nil
	}
}

// send posts one event of the user to the bridge's webhook, signed as LINE
// signs it, and answers with the webhook's status.
func (a *customerAPI) send(c echo.Context) error {
	user, err := a.ready(c)
	if err != nil {
		return handled(err)
	}
	var in SendRequest
	if err := decodeStrict(c.Request(), &in); err != nil {
		return handled(jsonError(c, http.StatusBadRequest, err.Error()))
	}
	ev, it, err := in.event(user)
	if err != nil {
		return handled(jsonError(c, http.StatusBadRequest, err.Error()))
	}
	if it.Kind == "image" {
		// The bridge downloads the content when the agent asked for a file.
		a.o.LINE.SetContent(ev.MessageID(), "image/png", samplePNG)
	}
	id := a.sent.add(user, it, ev.ReadToken())
	// The reply token must be known to the platform before the bridge uses it.
	req := a.o.LINE.SignedRequest(a.o.ChannelSecret, a.o.WebhookURL, ev).WithContext(c.Request().Context())
	res, err := a.o.HTTPClient.Do(req)
	if err != nil {
		a.sent.setStatus(user, id, -1)
		a.o.Logger.WarnContext(c.Request().Context(), "demo webhook request failed", "error", err)
		return c.JSON(http.StatusBadGateway, map[string]any{"error": "the bridge's webhook could not be reached: " + err.Error(), "id": id})
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
	a.sent.setStatus(user, id, res.StatusCode)
	if res.StatusCode/100 != 2 {
		a.o.Logger.WarnContext(c.Request().Context(), "demo webhook answered an error", "status", res.StatusCode)
	}
	return c.JSON(http.StatusOK, SendResponse{
		ID: id, WebhookEventID: ev.ID(), WebhookStatus: res.StatusCode, OK: res.StatusCode/100 == 2,
	})
}

// timeline answers the user's conversation as JSON.
func (a *customerAPI) timeline(c echo.Context) error {
	user, err := a.ready(c)
	if err != nil {
		return handled(err)
	}
	tl, _ := a.build(user)
	return c.JSON(http.StatusOK, tl)
}

// signature changes whenever something the user's phone shows may have
// changed in the stand-in LINE platform.
type signature struct{ delivered, loadings, reads int }

func userSignature(s linesim.Snapshot, user string) signature {
	sig := signature{reads: len(s.Reads)}
	for _, m := range s.Delivered {
		if m.User == user {
			sig.delivered++
		}
	}
	for _, l := range s.Loadings {
		if l.ChatID == user {
			sig.loadings++
		}
	}
	return sig
}

// build assembles the user's timeline: what they sent (the demo's record)
// and what the stand-in LINE platform delivered to them.
func (a *customerAPI) build(user string) (Timeline, signature) {
	sent, _ := a.sent.get(user)
	snap := a.o.LINE.Snapshot()
	read := make(map[string]bool, len(snap.Reads))
	for _, r := range snap.Reads {
		read[r.Token] = true
	}
	tl := Timeline{User: user, Items: make([]Item, 0, len(sent))}
	for _, s := range sent {
		it := s.Item
		it.Read = s.readToken != "" && read[s.readToken]
		tl.Items = append(tl.Items, it)
	}
	agent := a.agentLines(user)
	used := make(map[string]int)
	for i, m := range snap.Device(user) {
		it := Item{ID: "r" + strconv.Itoa(i+1), Dir: "in", Kind: m.Type, Text: m.Text, Via: string(m.Via), At: m.At, From: "bot"}
		if m.Type != "text" {
			it.Text = "[" + m.Type + "]"
		}
		if m.Via == linesim.Push && m.Type == "text" {
			if names := agent[m.Text]; used[m.Text] < len(names) {
				it.From, it.Name = "agent", names[used[m.Text]]
				used[m.Text]++
			}
		}
		tl.Items = append(tl.Items, it)
	}
	slices.SortStableFunc(tl.Items, func(x, y Item) int { return x.At.Compare(y.At) })
	for _, l := range slices.Backward(snap.Loadings) {
		if l.ChatID == user {
			tl.Loading = &Loading{At: l.At, Seconds: l.Seconds}
			break
		}
	}
	return tl, userSignature(snap, user)
}

// agentLines returns what agents said to user in the simulator (text →
// agent name per occurrence), to tell the agent's words from notices.
func (a *customerAPI) agentLines(user string) map[string][]string {
	if a.o.Sim == nil {
		return nil
	}
	out := make(map[string][]string)
	for _, ch := range a.o.Sim.Chats() {
		if !prechatHas(ch, user) {
			continue
		}
		for _, e := range ch.Transcript {
			if e.Type == lasim.TranscriptAgent {
				out[e.Content] = append(out[e.Content], e.Name)
			}
		}
	}
	return out
}

// prechatHas reports whether a prechat detail of the chat has the value v
// (the bridge sends the LINE user id as ContactLineId).
func prechatHas(ch lasim.ChatView, v string) bool {
	var details []struct {
		Value string `json:"value"`
	}
	if len(ch.PrechatDetails) == 0 || json.Unmarshal(ch.PrechatDetails, &details) != nil {
		return false
	}
	for _, d := range details {
		if d.Value == v {
			return true
		}
	}
	return false
}

// stream sends the user's timeline as Server-Sent Events: "reset" first,
// then "item" for every new or changed item (the client upserts by id) and
// "loading" for every new loading animation. It ends with the request.
func (a *customerAPI) stream(c echo.Context) error {
	user, err := a.ready(c)
	if err != nil {
		return handled(err)
	}
	ctx := c.Request().Context()
	s := startSSE(c.Response())
	if s.event("reset", map[string]string{"user": user}) != nil {
		return nil
	}
	last := make(map[string]string)
	var lastLoading time.Time
	lastWrite := time.Now()
	for {
		_, changed := a.sent.get(user)
		tl, sig := a.build(user)
		for _, it := range tl.Items {
			b, err := json.Marshal(it)
			if err != nil {
				return nil
			}
			if last[it.ID] == string(b) {
				continue
			}
			if s.raw("item", b) != nil {
				return nil
			}
			last[it.ID] = string(b)
			lastWrite = time.Now()
		}
		if l := tl.Loading; l != nil && !l.At.Equal(lastLoading) {
			if s.event("loading", l) != nil {
				return nil
			}
			lastLoading, lastWrite = l.At, time.Now()
		}
		a.wait(ctx, user, sig, changed, pingEvery-time.Since(lastWrite))
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(lastWrite) >= pingEvery {
			if s.ping() != nil {
				return nil
			}
			lastWrite = time.Now()
		}
	}
}

// wait returns when the user's part of the stand-in LINE platform changes
// from sig, when sent is closed, when ctx ends or after d.
func (a *customerAPI) wait(ctx context.Context, user string, sig signature, sent <-chan struct{}, d time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, max(d, time.Millisecond))
	defer cancel()
	go func() {
		select {
		case <-sent:
			cancel()
		case <-wctx.Done():
		}
	}()
	_, _ = a.o.LINE.WaitFor(wctx, func(s linesim.Snapshot) bool { return userSignature(s, user) != sig })
}

// samplePNG is the picture the image button sends.
const samplePNGName = "sample.png"

var samplePNG = func() []byte {
	const w, h = 240, 160
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			// A sky-to-grass gradient with a sun: a holiday photo.
			c := color.RGBA{uint8(120 + x/4), uint8(180 + y/4), 235, 255}
			if y > 110 {
				c = color.RGBA{70, uint8(150 + (y-110)/2), 80, 255}
			}
			if dx, dy := x-180, y-45; dx*dx+dy*dy < 22*22 {
				c = color.RGBA{255, 204, 51, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}()
