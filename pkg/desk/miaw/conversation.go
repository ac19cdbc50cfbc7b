package miaw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

func convPath(id ConversationID, rest ...string) string {
	p := pathConversation + "/" + url.PathEscape(string(id))
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

func (c *Client) esQuery() url.Values { return url.Values{"esDeveloperName": {c.cfg.DeploymentName}} }

// CreateConversation creates conversation id (a lowercase UUID v4 the caller generates) for u
// and requests routing, with routing attributes (the deployment's hidden pre-chat fields).
// Transient failures are retried twice with the same id; a 409 on a retry means the earlier
// attempt succeeded.
func (c *Client) CreateConversation(ctx context.Context, u User, id ConversationID, routing map[string]string) error {
	const op = "create conversation"
	if !id.Valid() {
		return fmt.Errorf("miaw: %s: %w: conversation id %q is not a lowercase UUID v4", op, ErrBadRequest, id)
	}
	body := map[string]any{"conversationId": id, "esDeveloperName": c.cfg.DeploymentName}
	if len(routing) > 0 {
		body["routingAttributes"] = routing
	}
	for attempt := 0; ; attempt++ {
		_, err := c.do(ctx, request{op: op, method: http.MethodPost, path: pathConversation, body: body, user: &u})
		switch {
		case err == nil:
			return nil
		case attempt > 0 && errors.Is(err, ErrConflict):
			return nil
		case attempt >= 2 || !Temporary(err) || errors.Is(err, ErrRateLimited):
			return err
		}
		if sleepCtx(ctx, time.Duration(attempt+1)*200*time.Millisecond) != nil {
			return err
		}
	}
}

// TextMessage is a text the end user sends.
type TextMessage struct {
	// ID is the message id, a lowercase UUID. Derive it from something stable (the bridge
	// uses the chat's request sequence) so that a retry reuses it.
	ID   string
	Text string
	// InReplyToMessageID and Language are optional.
	InReplyToMessageID string
	Language           string
	// NewSession sends isNewMessagingSession: the message starts a new messaging session
	// (after the agent ended the previous one). RoutingAttributes go with it.
	NewSession        bool
	RoutingAttributes map[string]string
	// ResumeSession makes a 417 (no messaging session) re-send the message once, same id,
	// with NewSession set.
	ResumeSession bool
}

// SendText sends a text message (StaticContentMessage, format Text).
func (c *Client) SendText(ctx context.Context, u User, conversationID ConversationID, m TextMessage) error {
	err := c.sendText(ctx, u, conversationID, m)
	if m.ResumeSession && !m.NewSession && errors.Is(err, ErrNoSession) {
		m.NewSession = true
		err = c.sendText(ctx, u, conversationID, m)
	}
	return err
}

func (c *Client) sendText(ctx context.Context, u User, conversationID ConversationID, m TextMessage) error {
	const op = "send message"
	if m.ID == "" {
		return fmt.Errorf("miaw: %s: %w: empty message id", op, ErrBadRequest)
	}
	msg := map[string]any{
		"id": m.ID, "messageType": "StaticContentMessage",
		"staticContent": map[string]string{"formatType": "Text", "text": m.Text},
	}
	if m.InReplyToMessageID != "" {
		msg["inReplyToMessageId"] = m.InReplyToMessageID
	}
	body := map[string]any{"message": msg, "esDeveloperName": c.cfg.DeploymentName}
	if m.Language != "" {
		body["language"] = m.Language
	}
	if m.NewSession {
		// Community clients report that both are required with a new session.
		ra := m.RoutingAttributes
		if ra == nil {
			ra = map[string]string{}
		}
		body["isNewMessagingSession"], body["routingAttributes"] = true, ra
		if m.Language == "" {
			body["language"] = "en"
		}
	}
	_, err := c.do(ctx, request{op: op, method: http.MethodPost, path: convPath(conversationID, "message"), body: body, user: &u})
	return err
}

// SendTyping sends a typing started (typing) or stopped indicator. id identifies the entry.
func (c *Client) SendTyping(ctx context.Context, u User, conversationID ConversationID, id string, typing bool) error {
	entryType := EntryTypingStopped
	if typing {
		entryType = EntryTypingStarted
	}
	body := map[string]string{"entryType": entryType, "id": id}
	_, err := c.do(ctx, request{op: "send typing", method: http.MethodPost, path: convPath(conversationID, "entry"), body: body, user: &u})
	return err
}

// CloseConversation closes the conversation (and its messaging session). Agents see the end
// user leave.
func (c *Client) CloseConversation(ctx context.Context, u User, conversationID ConversationID) error {
	_, err := c.do(ctx, request{op: "close conversation", method: http.MethodDelete, path: convPath(conversationID), query: c.esQuery(), user: &u})
	return err
}

// EndSession ends the conversation's messaging session and keeps the conversation.
func (c *Client) EndSession(ctx context.Context, u User, conversationID ConversationID) error {
	_, err := c.do(ctx, request{op: "end session", method: http.MethodDelete, path: convPath(conversationID, "session"), query: c.esQuery(), user: &u})
	return err
}

// Entry list directions.
const (
	FromStart = "FromStart"
	FromEnd   = "FromEnd"
)

// MaxEntriesLimit is the largest page of the entries list.
const MaxEntriesLimit = 50

// EntriesQuery selects conversation entries.
type EntriesQuery struct {
	Limit          int   // 1–50; default 50
	StartTimestamp int64 // epoch ms; 0: unset
	EndTimestamp   int64 // epoch ms; 0: unset
	Direction      string
	EntryTypes     []string // entryTypeFilter
}

// Entries lists conversation entries, in the order the API returns them.
func (c *Client) Entries(ctx context.Context, u User, conversationID ConversationID, q EntriesQuery) ([]Entry, error) {
	const op = "list entries"
	v := url.Values{}
	if q.Limit <= 0 || q.Limit > MaxEntriesLimit {
		q.Limit = MaxEntriesLimit
	}
	v.Set("limit", strconv.Itoa(q.Limit))
	if q.StartTimestamp > 0 {
		v.Set("startTimestamp", strconv.FormatInt(q.StartTimestamp, 10))
	}
	if q.EndTimestamp > 0 {
		v.Set("endTimestamp", strconv.FormatInt(q.EndTimestamp, 10))
	}
	if q.Direction != "" {
		v.Set("direction", q.Direction)
	}
	if len(q.EntryTypes) > 0 {
		v.Set("entryTypeFilter", strings.Join(q.EntryTypes, ","))
	}
	b, err := c.do(ctx, request{op: op, method: http.MethodGet, path: convPath(conversationID, "entries"), query: v, user: &u})
	if err != nil {
		return nil, err
	}
	var r struct {
		ConversationEntries []Entry `json:"conversationEntries"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("miaw: %s: decode: %w", op, err)
	}
	return r.ConversationEntries, nil
}

// EntriesSince returns the entries transcribed at or after since (epoch ms; 0: from the
// start), oldest first, paging through the list; at most limit entries (default 1000).
func (c *Client) EntriesSince(ctx context.Context, u User, conversationID ConversationID, since int64, limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = 1000
	}
	var out []Entry
	seen := map[string]bool{}
	for len(out) < limit {
		page, err := c.Entries(ctx, u, conversationID, EntriesQuery{Limit: MaxEntriesLimit, StartTimestamp: since, Direction: FromStart})
		if err != nil {
			return nil, err
		}
		next := since
		added := 0
		for _, e := range page {
			if e.Identifier != "" && seen[e.Identifier] {
				continue
			}
			if e.TranscriptedTimestamp < since {
				continue
			}
			seen[e.Identifier] = true
			out = append(out, e)
			added++
			next = max(next, e.TranscriptedTimestamp)
		}
		if len(page) < MaxEntriesLimit || added == 0 || next == since && added < MaxEntriesLimit {
			break
		}
		since = next
	}
	slices.SortStableFunc(out, func(a, b Entry) int {
		switch {
		case a.TranscriptedTimestamp < b.TranscriptedTimestamp:
			return -1
		case a.TranscriptedTimestamp > b.TranscriptedTimestamp:
			return 1
		}
		return 0
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
