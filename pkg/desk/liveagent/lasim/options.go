package lasim

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"
)

// Options configures a [Sim]. Every field has a default.
type Options struct {
	// OrgID and DeploymentID, when set, must match the organizationId/deploymentId of
	// ChasitorInit (else 400). OrgID is also checked by the upload servlet. Empty: accept any.
	OrgID        string
	DeploymentID string

	// HoldTime is how long a Messages poll waits for an event before answering 204.
	// Default 30s; tests use ~200ms. Changeable at runtime (SetHoldTime).
	HoldTime time.Duration
	// ClientPollTimeout is sent in the SessionId response (in seconds, a JSON number, fractional
	// when not whole) and is the expiry: a session not polled for that long expires and answers
	// 403 from then on. Default 40s. Changeable at runtime (SetClientPollTimeout).
	ClientPollTimeout time.Duration
	// ExpiredPolls is how many polls after an expiry are still answered 204 (after the hold)
	// before the 403s start, as some orgs seem to do. Default 0.
	ExpiredPolls int

	// FirstSequence is the sequence of the first 200 Messages payload of a session: 0 (default,
	// as observed) or 1.
	FirstSequence int64
	// DisableStrictSequence turns off POST de-duplication. By default (strict) a POST whose
	// X-LIVEAGENT-SEQUENCE is not greater than the last one applied is answered 200 but not
	// applied. A POST without the header is always applied.
	DisableStrictSequence bool

	// NewAffinityToken generates affinity tokens. Default: 8 random hex characters.
	NewAffinityToken func() string

	// AgentName is the name of the simulated agent. Default "Agent Smith".
	AgentName string
	// AutoAccept, when > 0, makes the agent accept every chat request that long after
	// ChasitorInit (demos). Default 0: off.
	AutoAccept time.Duration
	// AutoReply makes the agent answer every visitor message with "Echo: <text>" (demos).
	AutoReply bool

	// BaseURL is the externally visible base URL of the simulator, used for the
	// uploadServletUrl and cdmServletUrl of file transfers. Default: the scheme and Host of the
	// visitor's SessionId request.
	BaseURL string
	// MaxUploadBytes bounds an uploaded file. Default 10 MiB.
	MaxUploadBytes int64
	// MaxEndedChats is how many ended or expired chats are kept for the control API (oldest
	// dropped first). Default 200.
	MaxEndedChats int

	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives one line per chat lifecycle change. Default: discard.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.HoldTime <= 0 {
		o.HoldTime = 30 * time.Second
	}
	if o.ClientPollTimeout <= 0 {
		o.ClientPollTimeout = 40 * time.Second
	}
	if o.FirstSequence != 1 {
		o.FirstSequence = 0
	}
	if o.NewAffinityToken == nil {
		o.NewAffinityToken = func() string { return randomHex(4) }
	}
	if o.AgentName == "" {
		o.AgentName = "Agent Smith"
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 10 << 20
	}
	if o.MaxEndedChats <= 0 {
		o.MaxEndedChats = 200
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newUserID returns a Salesforce-style 15-character User id (005…).
func newUserID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "005" + string(b)
}
