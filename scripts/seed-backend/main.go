// Command seed-backend plays a LINE bot backend written for the Django
// "Liveagent API" against the bridge, end to end, with the Live Agent
// simulator standing in for the agent. It proves the drop-in claim: the
// same calls, the same answers.
//
//	go run ./cmd/bridge --demo &          # bridge + simulator on :8080
//	go run ./scripts/seed-backend -bridge http://localhost:8080 -sim http://localhost:8080/sim
//
// It exits non-zero at the first answer a Django-era backend would not
// have understood.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	bridgeURL := flag.String("bridge", "http://localhost:8080", "the bridge's base URL")
	simURL := flag.String("sim", "http://localhost:8080/sim", "the Live Agent simulator's base URL (its /control API plays the agent)")
	key := flag.String("key", os.Getenv("BRIDGE_API_KEY"), "BRIDGE_API_KEY, if the bridge requires one")
	lineID := flag.String("line-id", fmt.Sprintf("U%032x", time.Now().UnixNano()), "the LINE user id to play")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	p := &Player{Bridge: *bridgeURL, Sim: *simURL, Key: *key, Out: os.Stdout, HTTP: &http.Client{Timeout: 40 * time.Second}}
	if err := p.Play(ctx, *lineID); err != nil {
		fmt.Fprintln(os.Stderr, "seed-backend: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("seed-backend: OK — every answer matched the Django original's contract")
}

// Player drives one conversation.
type Player struct {
	Bridge, Sim, Key string
	Out              io.Writer
	HTTP             *http.Client
}

// reply is the Django API's answer shape.
type reply struct {
	Type    *string `json:"type"`
	Message *string `json:"message"`
}

func (r reply) String() string {
	s := func(p *string) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf("%q", *p)
	}
	return fmt.Sprintf("{type: %s, message: %s}", s(r.Type), s(r.Message))
}

func (r reply) is(typ, msg string) bool {
	return r.Type != nil && *r.Type == typ && (msg == "*" || r.Message != nil && *r.Message == msg)
}

func (p *Player) call(ctx context.Context, path string, body map[string]any, wantCode int) (reply, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Bridge+path, bytes.NewReader(b))
	if err != nil {
		return reply{}, err
	}
	// The Django app never looked at the Content-Type; many backends sent
	// form-encoded headers with a JSON body.
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p.Key != "" {
		req.Header.Set("Authorization", "Bearer "+p.Key)
	}
	res, err := p.HTTP.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r reply
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("%s: not JSON: %s", path, raw)
	}
	fmt.Fprintf(p.Out, "POST %-9s %-60s → %d %s\n", path, string(b), res.StatusCode, raw)
	if res.StatusCode != wantCode {
		return r, fmt.Errorf("%s answered %d, want %d", path, res.StatusCode, wantCode)
	}
	return r, nil
}

func (p *Player) agent(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.Sim+"/control"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := p.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("simulator %s %s: %d %s", method, path, res.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type simChat struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	VisitorName string `json:"visitorName"`
	EndedBy     string `json:"endedBy"`
	Transcript  []struct {
		Type, Content string
	} `json:"transcript"`
}

func (p *Player) findChat(ctx context.Context, name string) (simChat, error) {
	for {
		var list struct{ Chats []simChat }
		if err := p.agent(ctx, http.MethodGet, "/chats", nil, &list); err != nil {
			return simChat{}, err
		}
		for _, c := range list.Chats {
			if c.VisitorName == name && c.State != "ended" && c.State != "expired" {
				return c, nil
			}
		}
		select {
		case <-ctx.Done():
			return simChat{}, fmt.Errorf("the agent never saw %q's chat: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// poll calls /messages as the Django-era backend's loop did, until want.
func (p *Player) poll(ctx context.Context, id string, want func(reply) bool) (reply, error) {
	for {
		r, err := p.call(ctx, "/messages", map[string]any{"line_id": id}, 200)
		if err != nil {
			return r, err
		}
		if want(r) {
			return r, nil
		}
		if r.Type != nil && (*r.Type == "bad" || *r.Type == "end" || *r.Type == "fail") {
			return r, fmt.Errorf("unexpected %s", r)
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
	}
}

// Play runs the whole conversation.
func (p *Player) Play(ctx context.Context, id string) error {
	name := "seed-backend " + id[len(id)-6:]
	step := func(s string) { fmt.Fprintf(p.Out, "\n— %s\n", s) }

	step("the user asks for an operator: /init")
	r, err := p.call(ctx, "/init", map[string]any{"line_id": id, "display_name": name, "prechatEntities": nil}, 200)
	if err != nil {
		return err
	}
	if !r.is("ok", "接続しました。") {
		return fmt.Errorf("/init = %s, want ok/接続しました。", r)
	}
	chat, err := p.findChat(ctx, name)
	if err != nil {
		return err
	}

	step("the user writes before an agent accepted (the Django app lost this to a 500)")
	if r, err = p.call(ctx, "/send", map[string]any{"line_id": id, "message": "こんにちは、注文について"}, 200); err != nil || !r.is("send", "send") {
		return errors.Join(err, fmt.Errorf("/send = %s", r))
	}

	step("the agent accepts and answers three times at once (the Django app kept only the last)")
	if err := p.agent(ctx, http.MethodPost, "/chats/"+chat.ID+"/accept", map[string]any{}, nil); err != nil {
		return err
	}
	answers := []string{"お待たせしました。", "ご注文番号を教えてください。", "確認いたします。"}
	for _, a := range answers {
		if err := p.agent(ctx, http.MethodPost, "/chats/"+chat.ID+"/messages", map[string]any{"text": a}, nil); err != nil {
			return err
		}
	}
	for _, a := range answers {
		if _, err := p.poll(ctx, id, func(r reply) bool { return r.is("message", a) }); err != nil {
			return fmt.Errorf("waiting for %q: %w", a, err)
		}
	}

	step("the user answers")
	if r, err = p.call(ctx, "/send", map[string]any{"line_id": id, "message": "12345 です"}, 200); err != nil || !r.is("send", "send") {
		return errors.Join(err, fmt.Errorf("/send = %s", r))
	}
	for {
		var c simChat
		if err := p.agent(ctx, http.MethodGet, "/chats/"+chat.ID, nil, &c); err != nil {
			return err
		}
		var got []string
		for _, e := range c.Transcript {
			if e.Type == "Chasitor" {
				got = append(got, e.Content)
			}
		}
		if strings.Join(got, "|") == "こんにちは、注文について|12345 です" {
			fmt.Fprintf(p.Out, "agent console shows the user's messages, in order: %q\n", got)
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agent saw %q", got)
		case <-time.After(50 * time.Millisecond):
		}
	}

	step("the user closes the chat: /close ends it at Salesforce too")
	if r, err = p.call(ctx, "/close", map[string]any{"line_id": id}, 200); err != nil || !r.is("end", "deleted session") {
		return errors.Join(err, fmt.Errorf("/close = %s", r))
	}
	for {
		var c simChat
		if err := p.agent(ctx, http.MethodGet, "/chats/"+chat.ID, nil, &c); err != nil {
			return err
		}
		if c.State == "ended" {
			fmt.Fprintf(p.Out, "agent console: chat ended by %s\n", c.EndedBy)
			break
		}
		select {
		case <-ctx.Done():
			return errors.New("the chat never ended at the desk")
		case <-time.After(50 * time.Millisecond):
		}
	}

	step("unknown users get the Django app's answers")
	if r, err = p.call(ctx, "/messages", map[string]any{"line_id": id + "x"}, 200); err != nil || !r.is("bad", "bad request") {
		return errors.Join(err, fmt.Errorf("/messages for an unknown user = %s", r))
	}
	if r, err = p.call(ctx, "/send", map[string]any{"line_id": id + "x", "message": "hi"}, 400); err != nil || !r.is("bad", "bad request") {
		return errors.Join(err, fmt.Errorf("/send for an unknown user = %s", r))
	}
	return nil
}
