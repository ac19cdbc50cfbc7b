package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// fieldByKey walks the mapstructure tags of c to the field of a config key such as
// "liveagent.host".
func fieldByKey(t *testing.T, c *Config, key string) reflect.Value {
	t.Helper()
	v := reflect.ValueOf(c).Elem()
next:
	for _, part := range strings.Split(key, ".") {
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).Tag.Get("mapstructure") == part {
				v = v.Field(i)
				continue next
			}
		}
		t.Fatalf("no field for key %q", key)
	}
	return v
}

// TestEveryEnvVarReachesTheStruct is the viper pitfall (spf13/viper#761): a setting given
// only in the environment must reach the struct, under each of its names.
func TestEveryEnvVarReachesTheStruct(t *testing.T) {
	for _, b := range bindings {
		for _, name := range b.env {
			t.Run(name, func(t *testing.T) {
				var raw string
				var want any
				switch d := b.def.(type) {
				case string:
					raw, want = "xval", "xval"
				case int:
					raw, want = fmt.Sprint(d+7), d+7
				case float64:
					raw, want = fmt.Sprint(d+1.5), d+1.5
				case bool:
					raw, want = "True", true
				case time.Duration:
					raw, want = "3", 3*time.Second
				case []string:
					raw, want = " a, b ,,", []string{"a", "b"}
				default:
					t.Fatalf("unexpected default type %T", d)
				}
				c, err := Load(func(k string) string {
					if k == name {
						return raw
					}
					return ""
				}, "")
				if err != nil {
					t.Fatal(err)
				}
				got := fieldByKey(t, c, b.key).Interface()
				if s, ok := got.(string); ok {
					if !strings.Contains(s, "xval") {
						t.Errorf("%s=%q: %s = %q, want it to contain xval", name, raw, b.key, s)
					}
					return
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s=%q: %s = %#v, want %#v", name, raw, b.key, got, want)
				}
			})
		}
	}
}

func TestDefaultsMatchStructFields(t *testing.T) {
	d := Default()
	for _, b := range bindings {
		got := fieldByKey(t, &d, b.key).Interface()
		want := b.def
		if l, ok := want.([]string); ok && len(l) == 0 {
			want = []string(nil) // empty lists are normalised to nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: default field %#v, binding says %#v", b.key, got, want)
		}
	}
}

func TestBindingsAreUnique(t *testing.T) {
	var keys, names []string
	for _, b := range bindings {
		if slices.Contains(keys, b.key) {
			t.Errorf("key %s bound twice", b.key)
		}
		keys = append(keys, b.key)
		for _, n := range b.env {
			if slices.Contains(names, n) {
				t.Errorf("env var %s bound twice", n)
			}
			names = append(names, n)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"64K", 64000, true},
		{"64KB", 64000, true},
		{"64k", 64000, true},
		{"1M", 1000000, true},
		{"1Mi", 1 << 20, true},
		{"512KiB", 512 << 10, true},
		{"2G", 2000000000, true},
		{"512", 512, true},
		{"512B", 512, true},
		{"1.5K", 1500, true},
		{"", 0, false},
		{"K", 0, false},
		{"-1K", 0, false},
		{"64 kilobytes", 0, false},
		{"64X", 0, false},
	}
	for _, tt := range tests {
		got, err := parseByteSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{
		0:                       "0s",
		25 * time.Second:        "25s",
		10 * time.Minute:        "10m",
		168 * time.Hour:         "168h",
		1500 * time.Millisecond: "1.5s",
		90 * time.Second:        "1m30s",
	}
	for in, want := range tests {
		if got := formatDuration(in); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", in, got, want)
		}
		if back, err := parseDuration(formatDuration(in)); err != nil || back != in {
			t.Errorf("parseDuration(formatDuration(%v)) = %v, %v", in, back, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"redis://localhost:6379", "redis://localhost:6379"},
		{"rediss://:p4ssw0rd@ec2-1-2-3-4.compute-1.amazonaws.com:12345", "rediss://:xxxxx@ec2-1-2-3-4.compute-1.amazonaws.com:12345"},
		{"redis://default:p4ss@host:6379/0", "redis://default:xxxxx@host:6379/0"},
		{"https://ghp_token@example.com/hook", "https://xxxxx@example.com/hook"},
		{"https://script.google.com/macros/s/ABC/exec?token=t0k&x=1", "https://script.google.com/macros/s/ABC/exec?token=xxxxx&x=1"},
		{"https://api.line.me", "https://api.line.me"},
		{"https://example.com/a?api_key=k1&API_KEY=k2", "https://example.com/a?API_KEY=xxxxx&api_key=xxxxx"},
		{"::not a url::p4ss", "set (17 chars)"},
	}
	for _, tt := range tests {
		got := redactURL(tt.in)
		if got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if again := redactURL(got); again != got {
			t.Errorf("redactURL is not idempotent on %q: %q", got, again)
		}
	}
}
