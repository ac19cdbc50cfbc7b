package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw/miawsim"
)

// agentSide plays the Salesforce agent in the end-to-end tests, on either
// desk's simulator.
type agentSide interface {
	// env returns the settings that point the bridge at the simulator.
	env() map[string]string
	// chat waits for the chat of the visitor named name and returns its id.
	chat(t *testing.T, name string) string
	// prechat returns what the agent sees of the pre-chat data.
	prechat(t *testing.T, id string) string
	accept(t *testing.T, id string)
	send(t *testing.T, id, text string)
	// customerTexts waits until the agent has n texts from the customer.
	customerTexts(t *testing.T, id string, n int) []string
	// endedByCustomer waits until the customer ended the chat at the desk.
	endedByCustomer(t *testing.T, id string)
	// disrupt breaks the connection mid-chat the desk's way (Live Agent:
	// 503 and ReconnectSession; Enhanced Chat: the event stream drops and
	// replays duplicates).
	disrupt(t *testing.T, id string)
}

func waitCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 15*time.Second)
}

// liveAgent is the legacy Chat simulator.
type liveAgent struct {
	sim *lasim.Sim
	srv *httptest.Server
}

func newLiveAgent(t *testing.T) agentSide {
	a := &liveAgent{sim: lasim.New(lasim.Options{HoldTime: 300 * time.Millisecond, ClientPollTimeout: 5 * time.Second})}
	a.srv = httptest.NewServer(a.sim)
	t.Cleanup(func() { a.srv.CloseClientConnections(); a.srv.Close(); _ = a.sim.Close() })
	return a
}

func (a *liveAgent) env() map[string]string {
	return map[string]string{"DESK": "liveagent", "LIVEAGENT_HOST": a.srv.URL, "LIVEAGENT_ORGANIZATION_ID": "00D000000000001",
		"LIVEAGENT_DEPLOYMENT_ID": "572000000000001", "LIVEAGENT_BUTTON_ID": "573000000000001"}
}

func (a *liveAgent) wait(t *testing.T, what string, cond func(lasim.ChatView) bool) lasim.ChatView {
	t.Helper()
	ctx, cancel := waitCtx()
	defer cancel()
	v, err := a.sim.WaitFor(ctx, cond)
	if err != nil {
		t.Fatalf("Live Agent simulator: waiting for %s: %v", what, err)
	}
	return v
}

func (a *liveAgent) chat(t *testing.T, name string) string {
	return a.wait(t, "the chat of "+name, func(c lasim.ChatView) bool { return c.VisitorName == name }).ID
}

func (a *liveAgent) prechat(t *testing.T, id string) string {
	v, _ := a.sim.Chat(id)
	return string(v.PrechatDetails)
}

func (a *liveAgent) accept(t *testing.T, id string) {
	if err := a.sim.Accept(id); err != nil {
		t.Fatal(err)
	}
}

func (a *liveAgent) send(t *testing.T, id, text string) {
	if err := a.sim.AgentSend(id, text); err != nil {
		t.Fatal(err)
	}
}

func (a *liveAgent) customerTexts(t *testing.T, id string, n int) []string {
	var got []string
	a.wait(t, "customer texts", func(c lasim.ChatView) bool {
		if c.ID != id {
			return false
		}
		got = got[:0]
		for _, e := range c.Transcript {
			if e.Type == lasim.TranscriptChasitor {
				got = append(got, e.Content)
			}
		}
		return len(got) >= n
	})
	return got
}

func (a *liveAgent) endedByCustomer(t *testing.T, id string) {
	a.wait(t, "the end", func(c lasim.ChatView) bool {
		return c.ID == id && c.State == lasim.StateEnded && c.EndedBy == "visitor"
	})
}

func (a *liveAgent) disrupt(t *testing.T, id string) {
	if err := a.sim.InjectFault(lasim.Fault{Kind: "messages", Status: 503, ChatID: id}); err != nil {
		t.Fatal(err)
	}
}

// enhancedChat is the Messaging for In-App and Web simulator.
type enhancedChat struct {
	sim *miawsim.Sim
	srv *httptest.Server
}

func newEnhancedChat(t *testing.T) agentSide {
	a := &enhancedChat{sim: miawsim.New(miawsim.Options{OrgID: "00D000000000001AAA", DeploymentName: "LINE_Bridge",
		AgentName: "Agent Smith", HeartbeatInterval: 500 * time.Millisecond})}
	a.srv = httptest.NewServer(a.sim)
	t.Cleanup(func() { a.srv.CloseClientConnections(); a.srv.Close(); _ = a.sim.Close() })
	return a
}

func (a *enhancedChat) env() map[string]string {
	return map[string]string{"DESK": "miaw", "MIAW_URL": a.srv.URL, "MIAW_ORG_ID": "00D000000000001AAA", "MIAW_DEPLOYMENT_NAME": "LINE_Bridge"}
}

func (a *enhancedChat) wait(t *testing.T, what string, cond func(miawsim.ConversationView) bool) miawsim.ConversationView {
	t.Helper()
	ctx, cancel := waitCtx()
	defer cancel()
	v, err := a.sim.WaitFor(ctx, cond)
	if err != nil {
		t.Fatalf("Enhanced Chat simulator: waiting for %s: %v", what, err)
	}
	return v
}

func (a *enhancedChat) chat(t *testing.T, name string) string {
	return a.wait(t, "the conversation of "+name, func(c miawsim.ConversationView) bool {
		return c.RoutingAttributes["LineDisplayName"] == name
	}).ID
}

func (a *enhancedChat) prechat(t *testing.T, id string) string {
	v, _ := a.sim.Conversation(id)
	var b strings.Builder
	for k, val := range v.RoutingAttributes {
		b.WriteString(k + "=" + strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(val), "\n", " "), "\t", " ")) + ";")
	}
	return b.String()
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func (a *enhancedChat) accept(t *testing.T, id string) {
	if err := a.sim.Accept(id); err != nil {
		t.Fatal(err)
	}
}

func (a *enhancedChat) send(t *testing.T, id, text string) {
	if err := a.sim.AgentSend(id, text); err != nil {
		t.Fatal(err)
	}
}

func (a *enhancedChat) customerTexts(t *testing.T, id string, n int) []string {
	return a.wait(t, "customer texts", func(c miawsim.ConversationView) bool {
		return c.ID == id && len(c.EndUserTexts()) >= n
	}).EndUserTexts()
}

func (a *enhancedChat) endedByCustomer(t *testing.T, id string) {
	a.wait(t, "the end", func(c miawsim.ConversationView) bool { return c.ID == id && c.State == miawsim.StateClosed })
}

func (a *enhancedChat) disrupt(t *testing.T, id string) {
	if err := a.sim.ReplayOnReconnect(id, 3); err != nil {
		t.Fatal(err)
	}
	if err := a.sim.DropStreams(id); err != nil {
		t.Fatal(err)
	}
}

// desks runs f once per desk.
func desks(t *testing.T, f func(t *testing.T, agent agentSide)) {
	for name, mk := range map[string]func(*testing.T) agentSide{"liveagent": newLiveAgent, "miaw": newEnhancedChat} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, mk(t))
		})
	}
}
