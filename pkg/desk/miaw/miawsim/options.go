package miawsim

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"
)

// Options configures a [Sim]. Every field has a default.
type Options struct {
	// OrgID and DeploymentName, when set, must match the token requests' orgId and
	// esDeveloperName, the esDeveloperName of conversation calls and the X-Org-Id header
	// (compared on the first 15 characters). Empty: accept any.
	OrgID          string
	DeploymentName string

	// VerificationKeys are the User Verification keys (RSA or EC P-256 public keys) that
	// authenticated token requests are verified with. Empty: authenticated token requests are
	// answered 400 (User Verification off).
	VerificationKeys []crypto.PublicKey
	// Issuer, when set, must be the identity token's iss.
	Issuer string
	// KeySet names the keyset in verified subjects ("v2/iamessage/AUTH/<KeySet>/uid:<sub>").
	// Default "LineBridge".
	KeySet string

	// TokenLifetime is the lifetime of access tokens (default 1h). Changeable at runtime.
	TokenLifetime time.Duration
	// HeartbeatInterval is the interval of "ping" events on the event streams (default 15s).
	// Changeable at runtime.
	HeartbeatInterval time.Duration
	// EntriesPayloadAsString makes the entries list send entryPayload as a JSON string, like
	// the event stream; by default it is an object (as the official sample app reads it).
	EntriesPayloadAsString bool

	// AgentName is the simulated agent's name (default "Agent Smith").
	AgentName string
	// AutoAccept, when > 0, makes the agent accept every new messaging session that long after
	// it started (demos). AutoReply makes the agent answer every end-user message with
	// "Echo: <text>".
	AutoAccept time.Duration
	AutoReply  bool

	// ReplayCapacity is how many recent events per end user are kept for
	// [Sim.ReplayOnReconnect] (default 200).
	ReplayCapacity int
	// MaxClosedConversations is how many closed conversations are kept (default 200).
	MaxClosedConversations int

	// Now is the clock (default time.Now). Logger receives one line per lifecycle change.
	Now    func() time.Time
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.KeySet == "" {
		o.KeySet = "LineBridge"
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = time.Hour
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 15 * time.Second
	}
	if o.AgentName == "" {
		o.AgentName = "Agent Smith"
	}
	if o.ReplayCapacity <= 0 {
		o.ReplayCapacity = 200
	}
	if o.MaxClosedConversations <= 0 {
		o.MaxClosedConversations = 200
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newSFID returns a Salesforce-style 15-character id with the given prefix (005 user …).
func newSFID(prefix string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 15-len(prefix))
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}
