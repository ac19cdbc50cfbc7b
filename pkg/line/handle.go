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
	// Only one-to-one chats are relayed; standby events belong to another
	// module that controls the chat.
	if in.head.Source.Type != "user" || in.head.Source.UserID == "" || in.head.Mode == "standby" {
		return true
	}
	c := bridge.CustomerID(in.head.Source.UserID)
	switch e := in.ev.(type) {
	case webhook.MessageEvent:
		return w.onMessage(ctx, c, e)
	case webhook.PostbackEvent:
		return w.onPostback(ctx, c, e)
	case webhook.UnfollowEvent:
		// The user blocked the account: nothing can reach them any more.
		if _, open := w.openChat(ctx, c); open {
			w.closeChat(ctx, c)
		}
	}
	return true
}

// openChat returns the customer's chat and whether it is open.
func (w *Webhook) openChat(ctx context.Context, c bridge.CustomerID) (bridge.Chat, bool) {
	ch, err := w.b.Chat(ctx, c)
	if err != nil {
		if !errors.Is(err, bridge.ErrNoChat) {
			w.log.ErrorContext(ctx, "line chat lookup failed", "customer", c, "error", err)
		}
		return bridge.Chat{}, false
	}
	return ch, ch.Status.Open()
}

func (w *Webhook) onMessage(ctx context.Context, c bridge.CustomerID, e webhook.MessageEvent) bool {
	text, isText := e.Message.(webhook.TextMessageContent)
	if ch, open := w.openChat(ctx, c); open {
		if isText && matchKeyword(text.Text, w.cfg.EndKeywords) {
			w.closeChat(ctx, c)
			return false
		}
		if w.relay(ctx, c, ch, e) {
			return false
		}
		// The chat ended meanwhile: the bot gets the message.
	}
	if isText && matchKeyword(text.Text, w.cfg.HandoverKeywords) {
		w.start(ctx, c, e.ReplyToken)
		return false
	}
	if isText {
		w.remember(ctx, c, text.Text)
	}
	return true
}

func (w *Webhook) onPostback(ctx context.Context, c bridge.CustomerID, e webhook.PostbackEvent) bool {
	if e.Postback == nil {
		return true
	}
	switch e.Postback.Data {
	case w.cfg.EndPostback:
		if _, open := w.openChat(ctx, c); open {
			w.closeChat(ctx, c)
		}
		return false
	case w.cfg.HandoverPostback:
		if _, open := w.openChat(ctx, c); !open {
			w.start(ctx, c, e.ReplyToken)
		}
		return false
	}
	return true
}

// relay sends a message of the user to the open chat. It reports false if
// the chat turned out to be closed.
func (w *Webhook) relay(ctx context.Context, c bridge.CustomerID, ch bridge.Chat, e webhook.MessageEvent) bool {
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
			return true
		}
	case webhook.FileMessageContent:
		ev.SourceID, ev.ReadToken, note, data.FileName = m.Id, m.MarkAsReadToken, NoteFile, m.FileName
		if ch.FileRequest != nil && w.upload(ctx, c, m.Id, m.FileName) {
			return true
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
			return true
		}
		ev.Text = text
	}
	err := w.b.Send(ctx, c, ev)
	switch {
	case errors.Is(err, bridge.ErrChatClosed), errors.Is(err, bridge.ErrNoChat):
		return false
	case err != nil:
		w.log.ErrorContext(ctx, "line message not relayed", "customer", c, "kind", ev.Kind, "error", err)
		return true
	}
	w.log.DebugContext(ctx, "line message relayed", "customer", c, "kind", ev.Kind, "text", ev.Text)
	if ev.Kind == bridge.KindCustomerMessage {
		w.remember(ctx, c, ev.Text)
	}
	return true
}

// start opens a chat for the user and answers with the reply token: the
// waiting notice, or the request-failed notice if the chat cannot start.
func (w *Webhook) start(ctx context.Context, c bridge.CustomerID, replyToken string) {
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
	if _, created, err := w.b.Open(ctx, v); err != nil {
		w.log.WarnContext(ctx, "line chat not started", "customer", c, "error", err)
		key = NoticeRequestFailed
	} else {
		w.log.InfoContext(ctx, "line chat requested", "customer", c, "created", created)
	}
	w.reply(ctx, c, replyToken, w.notices.pick(lang, w.cfg.NoticeLanguage), key)
}

func (w *Webhook) closeChat(ctx context.Context, c bridge.CustomerID) {
	err := w.b.Close(ctx, c, bridge.EndByCustomer)
	if err != nil && !errors.Is(err, bridge.ErrChatClosed) && !errors.Is(err, bridge.ErrNoChat) {
		w.log.ErrorContext(ctx, "line chat not closed", "customer", c, "error", err)
		return
	}
	w.log.InfoContext(ctx, "line chat closed by customer", "customer", c)
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
