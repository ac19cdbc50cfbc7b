// Command line-user plays a LINE user through a whole handover against a
// running `bridge --demo`: the user's messages go to the bridge's
// /line/webhook as signed LINE events (through the demo's customer API), the
// agent is the embedded Live Agent simulator, and what the user's phone
// shows is read back from the stand-in LINE platform. It checks that every
// message arrives once and in order, in both directions.
//
//	go run ./cmd/bridge --demo &
//	go run ./scripts/line-user -bridge http://localhost:8080
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
	"slices"
	"strings"
	"time"
)

func main() {
	base := flag.String("bridge", "http://localhost:8080", "base URL of a bridge started with --demo")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	u := &User{Base: strings.TrimRight(*base, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}, Out: os.Stdout}
	if err := u.Play(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "line-user: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("line-user: OK — every message arrived once, in order, both ways")
}

// User drives one LINE user and plays the agent.
type User struct {
	Base string
	HTTP *http.Client
	Out  io.Writer
	id   string
}

func (u *User) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.Base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := u.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (u *User) say(ctx context.Context, text string) error {
	fmt.Fprintf(u.Out, "user  → %s\n", text)
	var r struct {
		WebhookStatus int `json:"webhook_status"`
	}
	if err := u.do(ctx, http.MethodPost, "/demo/api/customer/"+u.id+"/send", map[string]string{"text": text}, &r); err != nil {
		return err
	}
	if r.WebhookStatus != http.StatusOK {
		return fmt.Errorf("the bridge's webhook answered %d", r.WebhookStatus)
	}
	return nil
}

// phone waits until the user's phone shows n messages and returns them.
func (u *User) phone(ctx context.Context, n int) ([]string, error) {
	for {
		var tl struct {
			Items []struct{ Dir, Text string }
		}
		if err := u.do(ctx, http.MethodGet, "/demo/api/customer/"+u.id+"/timeline", nil, &tl); err != nil {
			return nil, err
		}
		var got []string
		for _, it := range tl.Items {
			if it.Dir == "in" {
				got = append(got, it.Text)
			}
		}
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("the phone shows %d messages, want %d: %q", len(got), n, got)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type simChat struct {
	ID, State, VisitorName string
	Transcript             []struct{ Type, Content string }
}

func (u *User) agentChat(ctx context.Context, name string, cond func(simChat) bool) (simChat, error) {
	for {
		var list struct{ Chats []simChat }
		if err := u.do(ctx, http.MethodGet, "/sim/control/chats", nil, &list); err != nil {
			return simChat{}, err
		}
		for _, c := range list.Chats {
			if c.VisitorName == name && cond(c) {
				return c, nil
			}
		}
		select {
		case <-ctx.Done():
			return simChat{}, fmt.Errorf("agent console: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func customerTexts(c simChat) []string {
	var out []string
	for _, e := range c.Transcript {
		if e.Type == "Chasitor" {
			out = append(out, e.Content)
		}
	}
	return out
}

// Play runs the handover.
func (u *User) Play(ctx context.Context) error {
	name := fmt.Sprintf("LINE user %d", time.Now().Unix()%100000)
	var who struct{ User string }
	if err := u.do(ctx, http.MethodPost, "/demo/api/customers", map[string]string{"name": name, "language": "ja"}, &who); err != nil {
		return fmt.Errorf("is the bridge running with --demo? %w", err)
	}
	u.id = who.User
	fmt.Fprintf(u.Out, "playing %s (%s)\n", name, u.id)

	if err := u.say(ctx, "オペレーター"); err != nil {
		return err
	}
	got, err := u.phone(ctx, 2)
	if err != nil {
		return err
	}
	fmt.Fprintf(u.Out, "phone ← %q\n", got)
	if !strings.Contains(got[0], "お待ちください") || !strings.HasPrefix(got[1], "接続しました。") {
		return fmt.Errorf("want the waiting reply and the queued notice, got %q", got)
	}
	if err := u.say(ctx, "注文した商品が届きません"); err != nil { // held until an agent accepts
		return err
	}
	chat, err := u.agentChat(ctx, name, func(simChat) bool { return true })
	if err != nil {
		return err
	}
	fmt.Fprintln(u.Out, "agent accepts")
	if err := u.do(ctx, http.MethodPost, "/sim/control/chats/"+chat.ID+"/accept", map[string]any{}, nil); err != nil {
		return err
	}
	if got, err = u.phone(ctx, 3); err != nil {
		return err
	}
	fmt.Fprintf(u.Out, "phone ← %q\n", got[2])
	replies := []string{"お調べします。", "明日お届けの予定です。"}
	for _, r := range replies {
		fmt.Fprintf(u.Out, "agent → %s\n", r)
		if err := u.do(ctx, http.MethodPost, "/sim/control/chats/"+chat.ID+"/messages", map[string]string{"text": r}, nil); err != nil {
			return err
		}
	}
	if got, err = u.phone(ctx, 5); err != nil {
		return err
	}
	fmt.Fprintf(u.Out, "phone ← %q\n", got[3:5])
	if !slices.Equal(got[3:5], replies) {
		return fmt.Errorf("agent replies on the phone: %q", got[3:5])
	}
	if err := u.say(ctx, "ありがとう"); err != nil {
		return err
	}
	chat, err = u.agentChat(ctx, name, func(c simChat) bool { return len(customerTexts(c)) >= 2 })
	if err != nil {
		return err
	}
	if g := customerTexts(chat); !slices.Equal(g, []string{"注文した商品が届きません", "ありがとう"}) {
		return fmt.Errorf("the agent received %q", g)
	}
	fmt.Fprintf(u.Out, "agent console shows %q\n", customerTexts(chat))
	if err := u.say(ctx, "終了"); err != nil {
		return err
	}
	if _, err := u.agentChat(ctx, name, func(c simChat) bool { return c.State == "ended" }); err != nil {
		return err
	}
	if got, err = u.phone(ctx, 6); err != nil {
		return err
	}
	fmt.Fprintf(u.Out, "phone ← %q\n", got[5])
	if len(got) != 6 {
		return fmt.Errorf("the phone shows %d messages, want 6: %q", len(got), got)
	}
	if chat, _ = u.agentChat(ctx, name, func(simChat) bool { return true }); len(customerTexts(chat)) != 2 {
		return errors.New("the agent received a message twice")
	}
	return nil
}
