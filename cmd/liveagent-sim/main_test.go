package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil, env(nil), io.Discard)
	if err != nil || c.addr != ":8089" || c.hold != 30*time.Second || c.pollTimeout != 40*time.Second || c.firstSeq != 0 || c.autoAccept != 0 {
		t.Fatalf("defaults %+v %v", c, err)
	}
	if c, _ := parseFlags(nil, env(map[string]string{"PORT": "5000"}), io.Discard); c.addr != ":5000" {
		t.Errorf("PORT: addr %q", c.addr)
	}
	if c, _ := parseFlags([]string{"-addr", "127.0.0.1:1"}, env(map[string]string{"PORT": "5000"}), io.Discard); c.addr != "127.0.0.1:1" {
		t.Errorf("-addr must win over PORT: %q", c.addr)
	}
	c, err = parseFlags([]string{"-hold", "200ms", "-poll-timeout", "3s", "-first-sequence", "1", "-auto-accept", "2s", "-auto-reply"}, env(nil), io.Discard)
	if err != nil || c.hold != 200*time.Millisecond || c.pollTimeout != 3*time.Second || c.firstSeq != 1 || c.autoAccept != 2*time.Second || !c.autoReply {
		t.Errorf("flags %+v %v", c, err)
	}
	for _, bad := range [][]string{{"-first-sequence", "2"}, {"-hold", "0s"}, {"-nope"}, {"extra"}, {"-log-format", "xml"}} {
		if _, err := parseFlags(bad, env(nil), io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := parseFlags([]string{"-h"}, env(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// TestRunServesAndShutsDown starts the command on a free port, does a SessionId request, then
// cancels the context (as SIGINT/SIGTERM do) and expects a clean return.
func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-addr", "127.0.0.1:0", "-hold", "1h", "-log-format", "json"}, env(nil), pw)
		pw.Close()
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	addrRE := regexp.MustCompile(`"addr":"([^"]+)"`)
	var addr string
	for addr == "" {
		select {
		case l := <-lines:
			if m := addrRE.FindStringSubmatch(l); m != nil && strings.Contains(l, "listening") {
				addr = m[1]
			}
		case err := <-errc:
			t.Fatalf("run returned early: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("no listening log line")
		}
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/chat/rest/System/SessionId", nil)
	req.Header.Set("X-LIVEAGENT-API-VERSION", "49")
	req.Header.Set("X-LIVEAGENT-AFFINITY", "null")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Key, AffinityToken string
		ClientPollTimeout  json.Number
	}
	err = json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || s.Key == "" || s.ClientPollTimeout != "40" {
		t.Fatalf("SessionId: %d %+v %v", resp.StatusCode, s, err)
	}

	// A poll holding (for up to an hour) across the shutdown must not delay it. The control
	// API's event stream tells when the poll is holding.
	evResp, err := http.Get("http://" + addr + "/control/events")
	if err != nil {
		t.Fatal(err)
	}
	defer evResp.Body.Close()
	pollDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+addr+"/chat/rest/System/Messages?ack=-1", nil)
		req.Header.Set("X-LIVEAGENT-API-VERSION", "49")
		req.Header.Set("X-LIVEAGENT-AFFINITY", s.AffinityToken)
		req.Header.Set("X-LIVEAGENT-SESSION-KEY", s.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			pollDone <- -1
			return
		}
		resp.Body.Close()
		pollDone <- resp.StatusCode
	}()
	active := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(evResp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), `"pollActive":true`) {
				close(active)
				break
			}
		}
		_, _ = io.Copy(io.Discard, evResp.Body)
	}()
	select {
	case <-active:
	case <-time.After(5 * time.Second):
		t.Fatal("poll never became active")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if st := <-pollDone; st != http.StatusNoContent {
		t.Errorf("holding poll ended with %d, want 204", st)
	}
	var all strings.Builder
	for l := range lines {
		all.WriteString(l + "\n")
	}
	if strings.Contains(all.String(), s.Key) {
		t.Error("the session key was logged")
	}
	if !strings.Contains(all.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped line in\n%s", all.String())
	}
}

func TestRunListenError(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "256.0.0.1:99999"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("err = %v", err)
	}
}

// -desk miaw serves the Enhanced Chat simulator: its token endpoint and
// control API answer, and the Live Agent routes do not.
func TestRunEnhancedChatMode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-desk", "miaw", "-addr", "127.0.0.1:0", "-log-format", "json", "-org-id", "00D000000000001AAA", "-deployment-id", "Dep"}, env(nil), pw)
		pw.Close()
	}()
	addrRE := regexp.MustCompile(`"addr":"([^"]+)"`)
	sc := bufio.NewScanner(pr)
	var addr string
	for addr == "" && sc.Scan() {
		if m := addrRE.FindStringSubmatch(sc.Text()); m != nil && strings.Contains(sc.Text(), "listening") {
			addr = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if addr == "" {
		t.Fatal("no listening log line")
	}
	res, err := http.Get("http://" + addr + "/control/conversations")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("control API = %d", res.StatusCode)
	}
	tok, err := http.Post("http://"+addr+"/iamessage/api/v2/authorization/unauthenticated/access-token", "application/json",
		strings.NewReader(`{"orgId":"00D000000000001AAA","esDeveloperName":"Dep","capabilitiesVersion":"1","platform":"Web"}`))
	if err != nil {
		t.Fatal(err)
	}
	tok.Body.Close()
	if tok.StatusCode != 200 {
		t.Fatalf("access token = %d", tok.StatusCode)
	}
	la, err := http.Get("http://" + addr + "/chat/rest/System/SessionId")
	if err != nil {
		t.Fatal(err)
	}
	la.Body.Close()
	if la.StatusCode == 200 {
		t.Fatal("Live Agent route answered in miaw mode")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
