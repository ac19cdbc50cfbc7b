package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// Core is what the HTTP layer needs of the bridge (*bridge.Bridge).
type Core interface {
	Chat(ctx context.Context, c bridge.CustomerID) (bridge.Chat, error)
	Open(ctx context.Context, v bridge.Visitor) (bridge.Chat, bool, error)
	Send(ctx context.Context, c bridge.CustomerID, ev bridge.Event) error
	Close(ctx context.Context, c bridge.CustomerID, reason bridge.EndReason) error
	Next(ctx context.Context, c bridge.CustomerID, wait time.Duration, accept func(bridge.Event) bool) (bridge.Event, bool, error)
}

// The seed's replies, byte for byte.
const (
	msgConnected   = "接続しました。"
	msgUnavailable = "ただいま接続できません。"
	msgEnded       = "接続が終了しました。"
)

// reply is a {"type": …, "message": …} answer of the four seed endpoints.
type reply struct {
	Type, Message *string
}

var (
	replyNull    = reply{}
	replyBad     = reply{str("bad"), str("bad request")}
	replySend    = reply{str("send"), str("send")}
	replyDeleted = reply{str("end"), str("deleted session")}
	replyOK      = reply{str("ok"), str(msgConnected)}
)

// seedReply maps an event to what the Django original returned for it, if
// it returned anything.
func seedReply(ev bridge.Event) (reply, bool) {
	switch ev.Kind {
	case bridge.KindAgentMessage:
		return reply{str("message"), str(ev.Text)}, true
	case bridge.KindRequested, bridge.KindQueueUpdate:
		return replyOK, true
	case bridge.KindRequestFailed:
		return reply{str("fail"), str(msgUnavailable)}, true
	case bridge.KindEnded:
		switch ev.EndReason {
		case bridge.EndByCustomer, bridge.EndReplaced:
			return reply{}, false // the caller ended it and knows
		case bridge.EndStartFailed:
			return reply{str("fail"), str(msgUnavailable)}, true
		}
		return reply{str("end"), str(msgEnded)}, true
	}
	return reply{}, false
}

func pullable(ev bridge.Event) bool { _, ok := seedReply(ev); return ok }

func (s *Server) writeReply(c echo.Context, code int, r reply, extra ...field) error {
	fs := append([]field{{Key: "type", Value: r.Type}, {Key: "message", Value: r.Message}}, extra...)
	return c.Blob(code, echo.MIMEApplicationJSON, pyObject(fs...))
}

// badRequest answers a malformed request: the seed's bad/bad request shape
// plus an error object saying what is wrong.
func (s *Server) badRequest(c echo.Context, code, msg string) error {
	return s.writeReply(c, http.StatusBadRequest, replyBad, errorField(code, msg))
}

func errorField(code, msg string) field {
	b, _ := json.Marshal(map[string]string{"code": code, "message": msg})
	return field{Key: "error", Raw: string(b)}
}

func (s *Server) unavailable(c echo.Context, err error) error {
	s.log.ErrorContext(c.Request().Context(), "request failed", "path", c.Path(), "err", err)
	return s.writeReply(c, http.StatusServiceUnavailable, replyNull, errorField("unavailable", "the bridge cannot reach its store or desk; retry later"))
}

// request is the union of the four endpoints' bodies.
type request struct {
	LineID          *string         `json:"line_id"`
	DisplayName     json.RawMessage `json:"display_name"`
	Message         json.RawMessage `json:"message"`
	PrechatEntities json.RawMessage `json:"prechatEntities"`
}

const maxLineID = 255

// decode reads the body as JSON whatever the Content-Type (as the seed did)
// and validates line_id.
func (s *Server) decode(c echo.Context) (request, bridge.CustomerID, error) {
	var req request
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return req, "", &inputError{"unreadable_body", "the request body could not be read"}
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, "", &inputError{"invalid_json", "the body must be a JSON object: " + err.Error()}
	}
	if req.LineID == nil {
		return req, "", &inputError{"missing_line_id", "line_id is required"}
	}
	id := *req.LineID
	switch {
	case id == "" || strings.TrimSpace(id) == "":
		return req, "", &inputError{"invalid_line_id", "line_id must not be empty"}
	case len(id) > maxLineID:
		return req, "", &inputError{"invalid_line_id", "line_id must be at most 255 bytes"}
	case !utf8.ValidString(id) || strings.IndexFunc(id, unicode.IsControl) >= 0:
		return req, "", &inputError{"invalid_line_id", "line_id must be valid UTF-8 without control characters"}
	}
	return req, bridge.CustomerID(id), nil
}

type inputError struct{ code, msg string }

func (e *inputError) Error() string { return e.msg }

func (s *Server) handleInit(c echo.Context) error {
	req, cid, err := s.decode(c)
	if err != nil {
		return s.inputErr(c, err)
	}
	ctx := c.Request().Context()
	name, ok, err := optionalString(req.DisplayName)
	if err != nil {
		return s.badRequest(c, "invalid_display_name", "display_name must be a string or null")
	}
	if !ok {
		// The seed cleared the session and answered null/null.
		if err := s.core.Close(ctx, cid, bridge.EndReplaced); err != nil && !errors.Is(err, bridge.ErrNoChat) {
			return s.unavailable(c, err)
		}
		return s.writeReply(c, http.StatusOK, replyNull)
	}
	if len(req.PrechatEntities) > 0 && !json.Valid(req.PrechatEntities) {
		return s.badRequest(c, "invalid_prechat_entities", "prechatEntities must be JSON")
	}
	v := bridge.Visitor{CustomerID: cid, DisplayName: name, PrechatEntities: nullToNil(req.PrechatEntities)}
	_, created, err := s.core.Open(ctx, v)
	switch {
	case errors.Is(err, bridge.ErrStartFailed):
		s.log.WarnContext(ctx, "chat could not be started", "customer", cid, "err", err)
		return s.writeReply(c, http.StatusOK, replyNull)
	case err != nil:
		return s.unavailable(c, err)
	case !created:
		return s.writeReply(c, http.StatusOK, replyOK)
	}
	wctx, cancel := s.waitCtx(c)
	defer cancel()
	ev, got, err := s.core.Next(wctx, cid, s.opt.InitWait, pullable)
	if err != nil && wctx.Err() == nil {
		return s.unavailable(c, err)
	}
	if !got {
		// Salesforce accepted the request but has not routed it yet.
		return s.writeReply(c, http.StatusOK, replyOK)
	}
	r, _ := seedReply(ev)
	return s.writeReply(c, http.StatusOK, r)
}

func (s *Server) handleMessages(c echo.Context) error {
	_, cid, err := s.decode(c)
	if err != nil {
		return s.inputErr(c, err)
	}
	ctx := c.Request().Context()
	if _, err := s.core.Chat(ctx, cid); err != nil {
		if errors.Is(err, bridge.ErrNoChat) {
			return s.writeReply(c, http.StatusOK, replyBad)
		}
		return s.unavailable(c, err)
	}
	wctx, cancel := s.waitCtx(c)
	defer cancel()
	ev, got, err := s.core.Next(wctx, cid, s.opt.MessagesWait, pullable)
	if err != nil {
		if ctx.Err() != nil {
			return nil // the caller went away
		}
		if wctx.Err() == nil {
			return s.unavailable(c, err)
		}
		got = false // draining: answer as if nothing came
	}
	if !got {
		return s.writeReply(c, http.StatusOK, replyNull)
	}
	r, _ := seedReply(ev)
	return s.writeReply(c, http.StatusOK, r)
}

// maxMessage bounds a visitor message (runes).
const maxMessage = 10000

func (s *Server) handleSend(c echo.Context) error {
	req, cid, err := s.decode(c)
	if err != nil {
		return s.inputErr(c, err)
	}
	text, ok, err := optionalString(req.Message)
	switch {
	case err != nil || !ok:
		return s.badRequest(c, "invalid_message", "message must be a string")
	case strings.TrimSpace(text) == "":
		return s.badRequest(c, "empty_message", "message must not be empty")
	case utf8.RuneCountInString(text) > maxMessage:
		return s.badRequest(c, "message_too_long", "message must be at most 10000 characters")
	}
	ctx := c.Request().Context()
	err = s.core.Send(ctx, cid, bridge.Event{Kind: bridge.KindCustomerMessage, Text: text, Source: "api"})
	switch {
	case errors.Is(err, bridge.ErrNoChat), errors.Is(err, bridge.ErrChatClosed):
		return s.writeReply(c, http.StatusBadRequest, replyBad)
	case err != nil:
		return s.unavailable(c, err)
	}
	return s.writeReply(c, http.StatusOK, replySend)
}

func (s *Server) handleClose(c echo.Context) error {
	_, cid, err := s.decode(c)
	if err != nil {
		return s.inputErr(c, err)
	}
	err = s.core.Close(c.Request().Context(), cid, bridge.EndByCustomer)
	if err != nil && !errors.Is(err, bridge.ErrNoChat) {
		return s.unavailable(c, err)
	}
	return s.writeReply(c, http.StatusOK, replyDeleted)
}

func (s *Server) inputErr(c echo.Context, err error) error {
	var ie *inputError
	if errors.As(err, &ie) {
		return s.badRequest(c, ie.code, ie.msg)
	}
	return s.badRequest(c, "bad_request", err.Error())
}

// optionalString decodes a JSON string field: ok is false for absent or null.
func optionalString(raw json.RawMessage) (string, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, err
	}
	return s, true, nil
}

func nullToNil(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}
