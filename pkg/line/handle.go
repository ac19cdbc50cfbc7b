package line

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"time"

	"github.com/line/line-bot-sdk-go/v8/linebot/messaging_api"
	"github.com/line/line-bot-sdk-go/v8/linebot/webhook"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// maxHistoryLine bounds one remembered line, in characters.
const maxHistoryLine = 500

// errStore marks a failure of the bridge's store (Redis) while handling an
// event: the event is handled again, with backoff, within EventTimeout, so
// that a Redis restart loses nothing LINE has been told 200 for.
var errStore = errors.New("line: store unavailable")

// handle handles one event and reports whether it is to be forwarded to the
// bot (not consumed by the bridge).
func (w *Webhook) handle(ctx context.Context, in inbound) (forward bool) {
	if id := in.head.WebhookEventID; id != "" {
		first, err := w.st.Once(ctx, "line:evt:"+id, DedupTTL)
		if err != nil {
			w.log.WarnContext(ctx, "line event dedup unavailable", "event_id", id, "error", err)
		} else if !first {
			w.log.DebugContext(ctx, "line event already handled", "event_id", id, "redelivery", in.head.DeliveryContext.IsRedelivery)
			return false
		}
	}
	for attempt := 0; ; attempt++ {
		forward, err := w.handleEvent(ctx, in)
		if err == nil {
			return forward
		}
		delay := min(200*time.Millisecond<<min(attempt, 5), 5*time.Second)
		w.log.WarnContext(ctx, "line event will be handled again", "event_id", in.head.WebhookEventID, "attempt", attempt+1, "in", delay, "error", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			w.log.ErrorContext(ctx, "line event lost: the store stayed unavailable", "event_id", in.head.WebhookEventID, "error", err)
			return false
		}
	}
}

// handleEvent handles one event once; an error wrapping errStore asks for
// another try.
func (w *Webhook) handleEvent(ctx context.Context, in inbound) (bool, error) {
	// Only one-to-one chats are relayed; standby events belong to another
	// module that controls the chat.
	if in.head.Source.Type != "user" || in.head.Source.UserID == "" || in.head.Mode == "standby" {
		return true, nil
	}
	c := bridge.CustomerID(in.head.Source.UserID)
	switch e := in.ev.(type) {
	case webhook.MessageEvent:
		return w.onMessage(ctx, c, e)
	case webhook.PostbackEvent:
		return w.onPostback(ctx, c, e)
	case webhook.UnfollowEvent:
		// The user blocked the account: nothing can reach them any more.
		_, open, err := w.openChat(ctx, c)
		if err != nil {
			return false, err
		}
		if open {
			return true, w.closeChat(ctx, c)
		}
	}
	return true, nil
}

// openChat returns the customer's chat and whether it is open.
func (w *Webhook) openChat(ctx context.Context, c bridge.CustomerID) (bridge.Chat, bool, error) {
	ch, err := w.b.Chat(ctx, c)
	if errors.Is(err, bridge.ErrNoChat) {
		return bridge.Chat{}, false, nil
	}
	if err != nil {
		return bridge.Chat{}, false, fmt.Errorf("%w: chat lookup: %w", errStore, err)
	}
	return ch, ch.Status.Open(), nil
}

func (w *Webhook) onMessage(ctx context.Context, c bridge.CustomerID, e webhook.MessageEvent) (bool, error) {
	text, isText := e.Message.(webhook.TextMessageContent)
	ch, open, err := w.openChat(ctx, c)
	if err != nil {
		return false, err
	}
	if open {
		if isText && matchKeyword(text.Text, w.cfg.EndKeywords) {
			return false, w.closeChat(ctx, c)
		}
		relayed, err := w.relay(ctx, c, ch, e)
		if err != nil || relayed {
			return false, err
		}
		// The chat ended meanwhile: the bot gets the message.
	}
	if isText && matchKeyword(text.Text, w.cfg.HandoverKeywords) {
		return false, w.start(ctx, c, e.ReplyToken)
	}
	if isText {
		w.remember(ctx, c, text.Text)
	}
	return true, nil
}

func (w *Webhook) onPostback(ctx context.Context, c bridge.CustomerID, e webhook.PostbackEvent) (bool, error) {
	if e.Postback == nil {
		return true, nil
	}
	switch e.Postback.Data {
	case w.cfg.EndPostback:
		_, open, err := w.openChat(ctx, c)
		if err == nil && open {
			err = w.closeChat(ctx, c)
		}
		return false, err
	case w.cfg.HandoverPostback:
		_, open, err := w.openChat(ctx, c)
		if err == nil && !open {
			err = w.start(ctx, c, e.ReplyToken)
		}
		return false, err
	}
	return true, nil
}

// relay sends a message of the user to the open chat. It reports false if
// the chat turned out to be closed.
func (w *Webhook) relay(ctx context.Context, c bridge.CustomerID, ch bridge.Chat, e webhook.MessageEvent) (bool, error) {
	ev := bridge.Event{Kind: bridge.KindCustomerNote, Source: "line", Time: eventTime(e.Timestamp)}
	var note NoticeKey
	var data NoticeData
	switch m := e.Message.(type) {
	case webhook.TextMessageContent:
		ev.Kind, ev.Text, ev.SourceID, ev.ReadToken = bridge.KindCustomerMessage, m.Text, m.Id, m.MarkAsReadToken
	case webhook.ImageMessageContent:
		ev.SourceID, ev.ReadToken, note = m.Id, m.MarkAsReadToken, NoteImage
		if ch.FileRequest != nil && (m.ContentProvider == nil || m.ContentProvider.Type == webhook.ContentProviderTYPE_LINE) &&
			w.upload(ctx, c, m.Id, "") {
			return true, nil
		}
	case webhook.FileMessageContent:
		ev.SourceID, ev.ReadToken, note, data.FileName = m.Id, m.MarkAsReadToken, NoteFile, m.FileName
		if ch.FileRequest != nil && w.upload(ctx, c, m.Id, m.FileName) {
			return true, nil
		}
	case webhook.StickerMessageContent:
		ev.SourceID, ev.ReadToken, note = m.Id, m.MarkAsReadToken, NoteSticker
	case webhook.VideoMessageContent:
		ev.SourceID, ev.ReadToken, note = m.Id, m.MarkAsReadToken, NoteVideo
	case webhook.AudioMessageContent:
		ev.SourceID, ev.ReadToken, note = m.Id, m.MarkAsReadToken, NoteAudio
	case webhook.LocationMessageContent:
		ev.SourceID, ev.ReadToken, note = m.Id, m.MarkAsReadToken, NoteLocation
		data.Title, data.Address = m.Title, m.Address
		data.Latitude, data.Longitude = formatCoord(m.Latitude), formatCoord(m.Longitude)
	default:
		note = NoteUnsupported
	}
	if note != "" {
		text, err := w.notices.Render(w.cfg.NoticeLanguage, note, data)
		if err != nil {
			w.log.ErrorContext(ctx, "line note not rendered", "note", note, "error", err)
			return true, nil
		}
		ev.Text = text
	}
	err := w.b.Send(ctx, c, ev)
	switch {
	case errors.Is(err, bridge.ErrChatClosed), errors.Is(err, bridge.ErrNoChat):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("%w: relay: %w", errStore, err)
	}
	w.log.DebugContext(ctx, "line message relayed", "customer", c, "kind", ev.Kind, "text", ev.Text)
	if ev.Kind == bridge.KindCustomerMessage {
		w.remember(ctx, c, ev.Text)
	}
	return true, nil
}

// start opens a chat for the user and answers with the reply token: the
// waiting notice, or the request-failed notice if the desk refused the chat.
// A store failure before the chat exists is returned, to try again.
func (w *Webhook) start(ctx context.Context, c bridge.CustomerID, replyToken string) error {
	name, lang := w.profile(ctx, c)
	hist, err := w.st.Recall(ctx, c)
	if err != nil {
		w.log.WarnContext(ctx, "line history unavailable", "customer", c, "error", err)
	}
	v := bridge.Visitor{CustomerID: c, DisplayName: name, Language: lang, History: hist}
	if len(w.cfg.VisitorFields) > 0 {
		v.Fields = maps.Clone(w.cfg.VisitorFields)
	}
	key := NoticeWaiting
	_, created, err := w.b.Open(ctx, v)
	switch {
	case err != nil && !errors.Is(err, bridge.ErrStartFailed):
		return fmt.Errorf("%w: open: %w", errStore, err)
	case err != nil:
		w.log.WarnContext(ctx, "line chat not started", "customer", c, "error", err)
		key = NoticeRequestFailed
	default:
		w.log.InfoContext(ctx, "line chat requested", "customer", c, "created", created)
	}
	w.reply(ctx, c, replyToken, w.notices.pick(lang, w.cfg.NoticeLanguage), key)
	return nil
}

func (w *Webhook) closeChat(ctx context.Context, c bridge.CustomerID) error {
	err := w.b.Close(ctx, c, bridge.EndByCustomer)
	if err != nil && !errors.Is(err, bridge.ErrChatClosed) && !errors.Is(err, bridge.ErrNoChat) {
		return fmt.Errorf("%w: close: %w", errStore, err)
	}
	w.log.InfoContext(ctx, "line chat closed by customer", "customer", c)
	return nil
}

func (w *Webhook) remember(ctx context.Context, c bridge.CustomerID, text string) {
	if w.cfg.HistoryLines <= 0 {
		return
	}
	if r := []rune(text); len(r) > maxHistoryLine {
		text = string(r[:maxHistoryLine]) + "…"
	}
	if err := w.st.Remember(ctx, c, "user: "+text, w.cfg.HistoryLines); err != nil {
		w.log.WarnContext(ctx, "line history not saved", "customer", c, "error", err)
	}
}

// profile returns the user's display name and language; on any error the
// name is DefaultVisitorName.
func (w *Webhook) profile(ctx context.Context, c bridge.CustomerID) (name, lang string) {
	if w.c == nil {
		return DefaultVisitorName, ""
	}
	cctx, cancel := context.WithTimeout(ctx, w.cfg.HTTPTimeout)
	defer cancel()
	api, err := w.c.messaging(cctx)
	if err == nil {
		var res *messaging_api.UserProfileResponse
		httpRes, res, perr := api.GetProfileWithHttpInfo(string(c))
		if err = callError("profile", httpRes, perr); err == nil && res != nil && res.DisplayName != "" {
			return res.DisplayName, res.Language
		}
	}
	w.log.WarnContext(ctx, "line profile unavailable", "customer", c, "error", err)
	return DefaultVisitorName, ""
}

// reply answers with one notice using the free reply token (best effort).
func (w *Webhook) reply(ctx context.Context, c bridge.CustomerID, token, lang string, key NoticeKey) {
	if w.c == nil || token == "" {
		return
	}
	text, err := w.notices.Render(lang, key, NoticeData{})
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, w.cfg.HTTPTimeout)
		defer cancel()
		var api *messaging_api.MessagingApiAPI
		if api, err = w.c.messaging(cctx); err == nil {
			res, _, rerr := api.ReplyMessageWithHttpInfo(&messaging_api.ReplyMessageRequest{
				ReplyToken: token, Messages: []messaging_api.MessageInterface{messaging_api.TextMessage{Text: text}}})
			err = callError("reply", res, rerr)
		}
	}
	if err != nil {
		w.log.WarnContext(ctx, "line reply failed", "customer", c, "notice", key, "error", err)
	}
}

// upload downloads the content of message id and hands it to the desk. It
// reports false if the file did not reach the agent (the caller then sends
// a note instead).
func (w *Webhook) upload(ctx context.Context, c bridge.CustomerID, id, name string) bool {
	if w.c == nil {
		return false
	}
	// Files get their own budget (ContentTimeout, usually longer than
	// EventTimeout); Close still cancels them through w.ctx.
	uctx, cancel := context.WithTimeout(w.ctx, w.cfg.ContentTimeout)
	defer cancel()
	err := w.download(uctx, c, id, name)
	switch {
	case err == nil:
		w.log.InfoContext(ctx, "line file uploaded", "customer", c, "message_id", id)
		return true
	case errors.Is(err, bridge.ErrNoFileRequested):
		return false
	}
	w.log.WarnContext(ctx, "line file not uploaded", "customer", c, "message_id", id, "error", err)
	return false
}

func (w *Webhook) download(ctx context.Context, c bridge.CustomerID, id, name string) error {
	api, err := w.c.blob(ctx)
	if err != nil {
		return err
	}
	res, body, err := api.GetMessageContentWithHttpInfo(id)
	if err := callError("content", res, err); err != nil {
		return err
	}
	if body == nil {
		return errors.New("line: content: empty response")
	}
	defer body.Body.Close()
	if body.ContentLength > w.cfg.MaxContentBytes {
		return fmt.Errorf("line: content: %d bytes, limit %d", body.ContentLength, w.cfg.MaxContentBytes)
	}
	ct := body.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	if name == "" {
		name = "image-" + id + extension(ct)
	}
	return w.b.Upload(ctx, c, name, ct, &capReader{r: body.Body, left: w.cfg.MaxContentBytes})
}

func extension(contentType string) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	}
	if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// capReader fails once more than left bytes were read, so an oversized
// file is never uploaded truncated.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errors.New("line: content larger than the limit")
	}
	return n, err
}

func eventTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
