package simkit

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"
)

// DefaultAgentName is the name of the simulated agent when the options name none.
const DefaultAgentName = "Agent Smith"

// OrPositive returns v if it is greater than zero, else def: the default of an option where
// zero and negative values mean "unset".
func OrPositive[T ~int | ~int64 | ~float64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// OrNow returns now, or time.Now if now is nil.
func OrNow(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// OrDiscard returns l, or a logger that discards everything if l is nil.
func OrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// RandomHex returns n random bytes as 2n hexadecimal characters.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RandomUUID returns a random (version 4) UUID in lowercase.
func RandomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// NewSFID returns a random Salesforce-style 15-character id that starts with prefix (the key
// prefix of the object type: "005" for a User …).
func NewSFID(prefix string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, max(0, 15-len(prefix)))
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}
