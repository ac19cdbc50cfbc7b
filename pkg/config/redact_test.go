package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/line-sf-bridge/bridge/pkg/config"
)

// Every secret below contains this marker; no output may.
const marker = "SEKRET"

const secretFile = `
events:
  endpoints:
    - name: crm
      url: https://crm.example.com/hook?sig=SEKRET17
      secret: whsec_SEKRET14
      headers: {Authorization: "Bearer SEKRET15"}
      params: {apiKey: SEKRET16}
`

func secretConfig(t *testing.T) *config.Config {
	t.Helper()
	c := mustLoad(t, map[string]string{
		"BRIDGE_API_KEY":        "SEKRET01-api-key",
		"ADMIN_API_KEY":         "SEKRET02-admin",
		"SECRET_KEY":            "SEKRET03-django",
		"LINE_CHANNEL_SECRET":   "SEKRET04-channel-secret",
		"LINE_CHANNEL_TOKEN":    "SEKRET05-channel-token/with+base64=",
		"EVENTS_WEBHOOK_SECRET": "whsec_SEKRET06",
		"MIAW_PRIVATE_KEY":      strings.Replace(testPEM, "MC4C", "MC4CSEKRET07", 1),
		"REDIS_URL":             "rediss://:SEKRET08@ec2-1-2-3-4.compute-1.amazonaws.com:12345",
		"LINE_FORWARD_URL":      "https://user09:SEKRET10pw@bot.example.com/cb?token=SEKRET11",
		"EVENTS_WEBHOOK_URL":    "https://SEKRET12@script.google.com/macros/s/x/exec?key=SEKRET13",
		"LIVEAGENT_HOST":        "https://d.la4-c1-ia4.salesforceliveagent.com",
	}, writeFile(t, "c.yaml", secretFile))
	if !strings.Contains(c.APIKey, marker) || !strings.Contains(c.Events.Endpoints[0].Headers["Authorization"], marker) {
		t.Fatal("secrets did not load")
	}
	return c
}

func TestSecretsNeverPrinted(t *testing.T) {
	c := secretConfig(t)
	r := c.Redacted()
	outputs := map[string]string{
		"%v Config":           fmt.Sprintf("%v", *c),
		"%+v Config":          fmt.Sprintf("%+v", *c),
		"%#v Config":          fmt.Sprintf("%#v", *c),
		"%s Config":           fmt.Sprintf("%s", *c), //lint:ignore S1025 the %s verb is what is tested
		"%v *Config":          fmt.Sprintf("%v", c),
		"%+v *Config":         fmt.Sprintf("%+v", c),
		"%#v *Config":         fmt.Sprintf("%#v", c),
		"%+v nested":          fmt.Sprintf("%+v", struct{ Cfg config.Config }{*c}),
		"%+v slice":           fmt.Sprintf("%+v", []any{*c, c}),
		"%+v LINE":            fmt.Sprintf("%+v", c.LINE),
		"%#v LINE":            fmt.Sprintf("%#v", c.LINE),
		"%+v Events":          fmt.Sprintf("%+v", c.Events),
		"%#v Events":          fmt.Sprintf("%#v", c.Events),
		"%+v Endpoints":       fmt.Sprintf("%+v", c.Events.Endpoints),
		"%#v Endpoint":        fmt.Sprintf("%#v", c.Events.Endpoints[0]),
		"%+v AllEndpoints":    fmt.Sprintf("%+v", c.Events.AllEndpoints()),
		"%+v MIAW":            fmt.Sprintf("%+v", c.MIAW),
		"%#v MIAW":            fmt.Sprintf("%#v", c.MIAW),
		"%+v Redacted":        fmt.Sprintf("%+v", r),
		"%+v Redacted fields": fmt.Sprintf("%+v %+v %+v %+v", r.APIKey, r.RedisURL, r.LINE.ChannelToken, r.Events.Endpoints[0].Headers),
		"String":              c.String(),
		"GoString":            c.GoString(),
		"Notes":               strings.Join(c.Notes(), "\n"),
		"Warnings":            strings.Join(c.Warnings(), "\n"),
	}
	for name, v := range map[string]any{"Config": *c, "*Config": c, "LINE": c.LINE, "Events": c.Events, "MIAW": c.MIAW, "Redacted": r} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json %s: %v", name, err)
		}
		outputs["json "+name] = string(b)
	}
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog JSON": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(h(&buf))
		log.Info("config", "config", c, "value", *c, "line", c.LINE, "events", c.Events, "endpoint", c.Events.Endpoints[0], "miaw", c.MIAW)
		log.Info("config", slog.Any("redacted", r), slog.Group("g", "cfg", c))
		outputs[name] = buf.String()
	}

	for name, out := range outputs {
		if strings.Contains(out, marker) {
			t.Errorf("%s shows a secret:\n%s", name, out)
		}
	}
	// The output still says which secrets are set.
	if !strings.Contains(outputs["slog JSON"], `"api_key":"set (16 chars)"`) ||
		!strings.Contains(outputs["slog JSON"], `"redis_url":"rediss://:xxxxx@ec2-1-2-3-4.compute-1.amazonaws.com:12345"`) ||
		!strings.Contains(outputs["slog JSON"], `"admin_api_key":"set (14 chars)"`) ||
		!strings.Contains(outputs["String"], `line.channel_secret="set (23 chars)"`) {
		t.Errorf("masks missing:\n%s\n%s", outputs["slog JSON"], outputs["String"])
	}

	// An invalid configuration's errors hide secrets too.
	bad := *c
	bad.RedisURL = "http://:SEKRET20@x:1"
	bad.Events.WebhookURL = "ftp://SEKRET21@x/"
	bad.LINE.ForwardURL = "https://u:SEKRET22@[::1"
	if err := bad.Validate(); err == nil || strings.Contains(err.Error(), marker) {
		t.Errorf("Validate error shows a secret or is nil: %v", err)
	}
}

func TestRedactedValues(t *testing.T) {
	c := secretConfig(t)
	r := c.Redacted()
	checks := map[string][2]string{
		"APIKey":        {r.APIKey, "set (16 chars)"},
		"AdminAPIKey":   {r.AdminAPIKey, "set (14 chars)"},
		"SecretKey":     {r.SecretKey, "set (15 chars)"},
		"ChannelSecret": {r.LINE.ChannelSecret, "set (23 chars)"},
		"ChannelToken":  {r.LINE.ChannelToken, "set (35 chars)"},
		"WebhookSecret": {r.Events.WebhookSecret, "set (14 chars)"},
		"RedisURL":      {r.RedisURL, "rediss://:xxxxx@ec2-1-2-3-4.compute-1.amazonaws.com:12345"},
		"ForwardURL":    {r.LINE.ForwardURL, "https://user09:xxxxx@bot.example.com/cb?token=xxxxx"},
		"WebhookURL":    {r.Events.WebhookURL, "https://xxxxx@script.google.com/macros/s/x/exec?key=xxxxx"},
		"EP secret":     {r.Events.Endpoints[0].Secret, "set (14 chars)"},
		"EP header":     {r.Events.Endpoints[0].Headers["Authorization"], "set (15 chars)"},
		"EP param":      {r.Events.Endpoints[0].Params["apiKey"], "set (8 chars)"},
		"EP url":        {r.Events.Endpoints[0].URL, "https://crm.example.com/hook?sig=xxxxx"},
		"unset stays":   {config.Default().Redacted().APIKey, ""},
		"LiveAgent":     {r.LiveAgent.Host, "https://d.la4-c1-ia4.salesforceliveagent.com"},
	}
	for name, ck := range checks {
		if ck[0] != ck[1] {
			t.Errorf("%s = %q, want %q", name, ck[0], ck[1])
		}
	}
	if !strings.HasPrefix(r.MIAW.PrivateKey, "set (") {
		t.Errorf("private key = %q", r.MIAW.PrivateKey)
	}
	// Redacted is a deep copy: the original keeps its secrets.
	if c.Events.Endpoints[0].Headers["Authorization"] != "Bearer SEKRET15" || c.APIKey != "SEKRET01-api-key" {
		t.Error("Redacted changed the original")
	}
	// And it is idempotent.
	if rr := r.Redacted(); fmt.Sprintf("%#v", rr.LINE) != fmt.Sprintf("%#v", r.LINE) || rr.APIKey != r.APIKey || rr.RedisURL != r.RedisURL {
		t.Error("Redacted is not idempotent")
	}
}
