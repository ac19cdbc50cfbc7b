package linesim

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Event is one webhook event object, as LINE sends it. Build it with the
// constructors (Text, Sticker, Image …) and adjust it with the methods
// (Redelivered, InGroup …), which return modified copies.
type Event map[string]any

// Destination is the bot user id the built webhook bodies carry.
const Destination = "Ubot0000000000000000000000000000"

var messageSeq atomic.Int64

func init() { messageSeq.Store(480000000000000000) }

// NewMessageID returns a fresh numeric message id.
func NewMessageID() string { return strconv.FormatInt(messageSeq.Add(1), 10) }

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewEventID returns a ULID-like webhookEventId: 26 Crockford base-32
// characters, a 48-bit millisecond time then 80 random bits.
func NewEventID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	// 128 bits → 26 characters (the first carries 3 bits).
	out := make([]byte, 26)
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func base(typ, user string) Event {
	return Event{
		"type":            typ,
		"mode":            "active",
		"timestamp":       time.Now().UnixMilli(),
		"source":          map[string]any{"type": "user", "userId": user},
		"webhookEventId":  NewEventID(),
		"deliveryContext": map[string]any{"isRedelivery": false},
	}
}

func messageEvent(user string, msg map[string]any) Event {
	e := base("message", user)
	e["replyToken"] = randomHex(16)
	msg["id"] = NewMessageID()
	msg["markAsReadToken"] = randomHex(12)
	e["message"] = msg
	return e
}

// Text is a text message from user.
func Text(user, text string) Event {
	return messageEvent(user, map[string]any{"type": "text", "text": text, "quoteToken": randomHex(16)})
}

// Sticker is a sticker message from user.
func Sticker(user, packageID, stickerID string) Event {
	return messageEvent(user, map[string]any{"type": "sticker", "packageId": packageID, "stickerId": stickerID,
		"stickerResourceType": "STATIC", "keywords": []string{"hello"}, "quoteToken": randomHex(16)})
}

// Image is an image message from user, its content held by LINE (serve the
// bytes with Server.SetContent(e.MessageID(), …)).
func Image(user string) Event {
	return messageEvent(user, map[string]any{"type": "image", "contentProvider": map[string]any{"type": "line"},
		"quoteToken": randomHex(16)})
}

// Video is a video message from user.
func Video(user string) Event {
	return messageEvent(user, map[string]any{"type": "video", "duration": 6000, "contentProvider": map[string]any{"type": "line"},
		"quoteToken": randomHex(16)})
}

// Audio is an audio message from user.
func Audio(user string) Event {
	return messageEvent(user, map[string]any{"type": "audio", "duration": 6000, "contentProvider": map[string]any{"type": "line"}})
}

// File is a file message from user.
func File(user, name string, size int) Event {
	return messageEvent(user, map[string]any{"type": "file", "fileName": name, "fileSize": size})
}

// Location is a location message from user.
func Location(user, title, address string, lat, lng float64) Event {
	return messageEvent(user, map[string]any{"type": "location", "title": title, "address": address,
		"latitude": lat, "longitude": lng})
}

// Postback is a postback from user carrying data.
func Postback(user, data string) Event {
	e := base("postback", user)
	e["replyToken"] = randomHex(16)
	e["postback"] = map[string]any{"data": data}
	return e
}

// Follow is a follow (friend added or unblocked) event.
func Follow(user string) Event {
	e := base("follow", user)
	e["replyToken"] = randomHex(16)
	e["follow"] = map[string]any{"isUnblocked": false}
	return e
}

// Unfollow is an unfollow (blocked) event.
func Unfollow(user string) Event { return base("unfollow", user) }

// ID returns the webhookEventId.
func (e Event) ID() string { s, _ := e["webhookEventId"].(string); return s }

// ReplyToken returns the reply token ("" if the event has none).
func (e Event) ReplyToken() string { s, _ := e["replyToken"].(string); return s }

// UserID returns the source's user id.
func (e Event) UserID() string {
	src, _ := e["source"].(map[string]any)
	s, _ := src["userId"].(string)
	return s
}

// MessageID returns the message id of a message event.
func (e Event) MessageID() string {
	m, _ := e["message"].(map[string]any)
	s, _ := m["id"].(string)
	return s
}

// ReadToken returns the markAsReadToken of a message event.
func (e Event) ReadToken() string {
	m, _ := e["message"].(map[string]any)
	s, _ := m["markAsReadToken"].(string)
	return s
}

// Redelivered returns a copy marked as a redelivery: same webhookEventId,
// deliveryContext.isRedelivery true.
func (e Event) Redelivered() Event {
	c := e.clone()
	c["deliveryContext"] = map[string]any{"isRedelivery": true}
	return c
}

// InGroup returns a copy sent in group groupID (by the same user).
func (e Event) InGroup(groupID string) Event {
	c := e.clone()
	c["source"] = map[string]any{"type": "group", "groupId": groupID, "userId": e.UserID()}
	return c
}

// InRoom returns a copy sent in multi-person chat roomID.
func (e Event) InRoom(roomID string) Event {
	c := e.clone()
	c["source"] = map[string]any{"type": "room", "roomId": roomID, "userId": e.UserID()}
	return c
}

// Standby returns a copy in standby mode (another module has the chat).
func (e Event) Standby() Event {
	c := e.clone()
	c["mode"] = "standby"
	delete(c, "replyToken")
	return c
}

func (e Event) clone() Event { return cloneValue(map[string]any(e)).(map[string]any) }

func cloneValue(v any) any {
	switch x := v.(type) {
	case Event:
		return cloneValue(map[string]any(x))
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = cloneValue(val)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, val := range x {
			s[i] = cloneValue(val)
		}
		return s
	case []string:
		return append([]string(nil), x...)
	}
	return v
}

// Body returns a webhook request body carrying events.
func Body(events ...Event) []byte {
	if events == nil {
		events = []Event{}
	}
	b, err := json.Marshal(map[string]any{"destination": Destination, "events": events})
	if err != nil {
		panic(fmt.Sprintf("linesim: marshal events: %v", err))
	}
	return b
}

// Sign returns the X-Line-Signature of body for the channel secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignedRequest returns a webhook POST to url carrying events, signed with
// secret, as the LINE Platform sends it. It works both with a handler's
// ServeHTTP and with an http.Client. It panics on an invalid url.
func SignedRequest(secret, url string, events ...Event) *http.Request {
	b := Body(events...)
	return RawRequest(url, b, Sign(secret, b))
}

// RawRequest returns a webhook POST of body with the given signature ("" =
// no signature header).
func RawRequest(url string, body []byte, signature string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		panic(fmt.Sprintf("linesim: %v", err))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "LineBotWebhook/2.0")
	if signature != "" {
		req.Header.Set("X-Line-Signature", signature)
	}
	return req
}
