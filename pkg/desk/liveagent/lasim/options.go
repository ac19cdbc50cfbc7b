package lasim

import (
	"cmp"
	"log/slog"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
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
	o.HoldTime = simkit.OrPositive(o.HoldTime, 30*time.Second)
	o.ClientPollTimeout = simkit.OrPositive(o.ClientPollTimeout, 40*time.Second)
	if o.FirstSequence != 1 {
		o.FirstSequence = 0
	}
	if o.NewAffinityToken == nil {
		o.NewAffinityToken = func() string { return simkit.RandomHex(4) }
	}
	o.AgentName = cmp.Or(o.AgentName, simkit.DefaultAgentName)
	o.MaxUploadBytes = simkit.OrPositive(o.MaxUploadBytes, 10<<20)
	o.MaxEndedChats = simkit.OrPositive(o.MaxEndedChats, 200)
	o.Now = simkit.OrNow(o.Now)
	o.Logger = simkit.OrDiscard(o.Logger)
	return o
}
