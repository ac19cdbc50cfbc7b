package miaw

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// newUUID returns a random RFC 9562 version 4 UUID in lowercase, the form MIAW requires for
// conversation ids ("The UUID must be in lowercase").
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return formatUUID(b)
}

// derivedUUID returns a UUID in the version 4 layout whose bits come from SHA-256 of parts:
// the same parts always give the same id, so a retried request reuses its id.
func derivedUUID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	var b [16]byte
	copy(b[:], sum[:16])
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// ConversationID identifies a conversation: a lowercase UUID version 4 that the client
// generates.
type ConversationID string

// NewConversationID returns a new random conversation id.
func NewConversationID() ConversationID { return ConversationID(newUUID()) }

// ParseConversationID checks that s is a lowercase UUID version 4.
func ParseConversationID(s string) (ConversationID, error) {
	id := ConversationID(s)
	if !id.Valid() {
		return "", fmt.Errorf("miaw: conversation id %q is not a lowercase UUID v4", s)
	}
	return id, nil
}

// Valid reports whether id is a lowercase UUID version 4.
func (id ConversationID) Valid() bool { return uuidV4.MatchString(string(id)) }
