package simkit

import (
	"fmt"
	"net/http"
)

// Agent is the agent side of a simulator: the actions whose control API requests are the same
// in every simulator. Each returns an error for an unknown id or a state that does not allow
// the action.
type Agent interface {
	// AcceptAs makes agentName ("" for the default agent) take a queued chat.
	AcceptAs(id, agentName string) error
	// AgentSend sends a text from the agent.
	AgentSend(id, text string) error
	// AgentTyping sends a typing (or stopped-typing) indicator from the agent.
	AgentTyping(id string, typing bool) error
	// Transfer hands the chat to agentName.
	Transfer(id, agentName string) error
	// SetQueuePosition moves a queued chat; estimatedWaitTime < 0 means the simulator's
	// estimate.
	SetQueuePosition(id string, position, estimatedWaitTime int) error
}

// AgentHandlers are the handlers of the [Agent] actions, POST …/{id}/<action> with an optional
// JSON body, each answering the object's snapshot (see [Resource.Respond]).
type AgentHandlers struct {
	// Accept: {"agentName": "…"}, optional.
	Accept http.HandlerFunc
	// Send: {"text": "…"}, required.
	Send http.HandlerFunc
	// Typing: {"typing": bool}, default true.
	Typing http.HandlerFunc
	// Transfer: {"agentName": "…"}.
	Transfer http.HandlerFunc
	// Queue: {"position": n, "estimatedWaitTime": seconds}; position required.
	Queue http.HandlerFunc
}

// NewAgentHandlers returns the handlers of a's actions on the objects of res.
func NewAgentHandlers[V any](res Resource[V], a Agent) AgentHandlers {
	type agentName struct {
		AgentName string `json:"agentName"`
	}
	return AgentHandlers{
		Accept: WithBody(res, func(id string, in agentName) error {
			return a.AcceptAs(id, in.AgentName)
		}),
		Send: WithBody(res, func(id string, in struct {
			Text *string `json:"text"`
		}) error {
			if in.Text == nil {
				return fmt.Errorf("%w: text is required", res.API.Invalid)
			}
			return a.AgentSend(id, *in.Text)
		}),
		Typing: WithBody(res, func(id string, in struct {
			Typing *bool `json:"typing"`
		}) error {
			return a.AgentTyping(id, in.Typing == nil || *in.Typing)
		}),
		Transfer: WithBody(res, func(id string, in agentName) error {
			return a.Transfer(id, in.AgentName)
		}),
		Queue: WithBody(res, func(id string, in struct {
			Position          *int `json:"position"`
			EstimatedWaitTime *int `json:"estimatedWaitTime"`
		}) error {
			if in.Position == nil {
				return fmt.Errorf("%w: position is required", res.API.Invalid)
			}
			wait := -1
			if in.EstimatedWaitTime != nil {
				wait = *in.EstimatedWaitTime
			}
			return a.SetQueuePosition(id, *in.Position, wait)
		}),
	}
}
