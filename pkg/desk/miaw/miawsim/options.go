package miawsim

import (
	"cmp"
	"crypto"
	"log/slog"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
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
	o.KeySet = cmp.Or(o.KeySet, "LineBridge")
	o.TokenLifetime = simkit.OrPositive(o.TokenLifetime, time.Hour)
	o.HeartbeatInterval = simkit.OrPositive(o.HeartbeatInterval, 15*time.Second)
	o.AgentName = cmp.Or(o.AgentName, simkit.DefaultAgentName)
	o.ReplayCapacity = simkit.OrPositive(o.ReplayCapacity, 200)
	o.MaxClosedConversations = simkit.OrPositive(o.MaxClosedConversations, 200)
	o.Now = simkit.OrNow(o.Now)
	o.Logger = simkit.OrDiscard(o.Logger)
	return o
}
