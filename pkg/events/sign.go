package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
)

// signStandard returns the Standard Webhooks signature header value:
// "v1," + base64(HMAC-SHA256(key, "{id}.{ts}.{body}")).
func signStandard(key []byte, msgID string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", msgID, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// signChatwoot returns Chatwoot's X-Chatwoot-Signature value:
// "sha256=" + hex(HMAC-SHA256(key, "{ts}.{body}")).
func signChatwoot(key []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%d.", ts)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// livechatToken is the "token" of a livechat_v2 body: hex(HMAC-SHA256(key,
// event_unique_id)). A receiver that cannot read headers (a Google Apps
// Script doPost) can recompute it; the secret itself never travels.
func livechatToken(key []byte, eventID string) string {
	if len(key) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(eventID))
	return hex.EncodeToString(m.Sum(nil))
}

// uuidFrom formats 16 bytes of a hash of s as a version-5-style UUID. It
// gives X-Chatwoot-Delivery a value that is stable across retries.
func uuidFrom(s string) string {
	h := sha256.Sum256([]byte(s))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// setSignatureHeaders adds the headers of one attempt. webhook-id is the
// event id (the same on every attempt and every endpoint); the timestamp and
// signatures are new on each attempt.
func setSignatureHeaders(h http.Header, format string, key []byte, eventID, deliveryID string, ts int64, body []byte) {
	h["webhook-id"] = []string{eventID}
	h["webhook-timestamp"] = []string{strconv.FormatInt(ts, 10)}
	if len(key) > 0 {
		h["webhook-signature"] = []string{signStandard(key, eventID, ts, body)}
	}
	if format == FormatChatwoot {
		h.Set("X-Chatwoot-Timestamp", strconv.FormatInt(ts, 10))
		h.Set("X-Chatwoot-Delivery", uuidFrom(deliveryID))
		if len(key) > 0 {
			h.Set("X-Chatwoot-Signature", signChatwoot(key, ts, body))
		}
	}
}
