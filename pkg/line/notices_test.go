package line

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/line-sf-bridge/bridge/configs"
)

func TestNoticesShippedRenderInEveryLanguage(t *testing.T) {
	n, err := DefaultNotices()
	if err != nil {
		t.Fatalf("DefaultNotices: %v", err)
	}
	if got, want := n.Languages(), []string{"en", "ja"}; !slices.Equal(got, want) {
		t.Fatalf("languages = %v, want %v", got, want)
	}
	for _, lang := range n.Languages() {
		for _, key := range NoticeKeys {
			for _, d := range []NoticeData{{}, SampleNoticeData} {
				text, err := n.Render(lang, key, d)
				if err != nil {
					t.Errorf("%s/%s: %v", lang, key, err)
					continue
				}
				if text == "" {
					t.Errorf("%s/%s renders empty with %+v", lang, key, d)
				}
				if strings.Contains(text, "{{") || strings.Contains(text, "<no value>") {
					t.Errorf("%s/%s left a placeholder: %q", lang, key, text)
				}
			}
		}
	}
}

func TestNoticesLanguagesHaveSameKeys(t *testing.T) {
	files := configs.Messages()
	var first []string
	for lang, data := range files {
		n, err := ParseNotices(map[string][]byte{lang: data})
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		keys := slices.Sorted(maps.Keys(n.byLang[lang]))
		var names []string
		for _, k := range keys {
			names = append(names, string(k))
		}
		if first == nil {
			first = names
		} else if !slices.Equal(first, names) {
			t.Errorf("%s keys %v differ from %v", lang, names, first)
		}
	}
	if len(first) != len(NoticeKeys) {
		t.Errorf("%d keys, want %d", len(first), len(NoticeKeys))
	}
}

func TestNoticesSeedStrings(t *testing.T) {
	n, _ := DefaultNotices()
	for key, want := range map[NoticeKey]string{
		NoticeQueued: "接続しました。", NoticeRequestFailed: "ただいま接続できません。", NoticeEnded: "接続が終了しました。",
	} {
		got, err := n.Render("ja", key, NoticeData{})
		if err != nil || !strings.HasPrefix(got, want) {
			t.Errorf("ja/%s = %q, %v; want prefix %q", key, got, err, want)
		}
	}
	got, _ := n.Render("ja", NoteLocation, NoticeData{Title: "東京タワー", Address: "東京都港区", Latitude: "35.6586", Longitude: "139.7454"})
	if want := "[位置情報: 東京タワー 東京都港区 35.6586,139.7454]"; got != want {
		t.Errorf("location note = %q, want %q", got, want)
	}
}

func TestParseNoticesRejectsMistakes(t *testing.T) {
	good := configs.Messages()["en"]
	tests := map[string]string{
		"unknown placeholder": strings.Replace(string(good), "{{.FileName}}", "{{.FileNmae}}", 1),
		"syntax error":        strings.Replace(string(good), "{{.FileName}}", "{{.FileName", 1),
		"unknown key":         string(good) + "\nsurprise: |-\n  hello\n",
		"missing key":         strings.Replace(string(good), "note_audio:", "# note_audio:", 1),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if data == string(good) {
				t.Fatal("test data unchanged")
			}
			if _, err := ParseNotices(map[string][]byte{"en": []byte(data)}); err == nil {
				t.Fatal("ParseNotices accepted a broken file")
			}
		})
	}
	if _, err := ParseNotices(map[string][]byte{"en": good}); err != nil {
		t.Fatalf("good file rejected: %v", err)
	}
}

func TestNoticeLanguagePick(t *testing.T) {
	n, _ := DefaultNotices()
	for _, tc := range []struct{ visitor, def, want string }{
		{"en", "ja", "en"}, {"en-US", "ja", "en"}, {"ja", "en", "ja"}, {"th", "ja", "ja"}, {"", "en", "en"},
	} {
		if got := n.pick(tc.visitor, tc.def); got != tc.want {
			t.Errorf("pick(%q, %q) = %q, want %q", tc.visitor, tc.def, got, tc.want)
		}
	}
}

func TestConfigLogsNoSecrets(t *testing.T) {
	c := Config{ChannelSecret: "s3cr3t-value", ChannelToken: "t0ken-value"}.WithDefaults()
	for _, out := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), c.LogValue().String()} {
		if strings.Contains(out, "s3cr3t") || strings.Contains(out, "t0ken") {
			t.Errorf("secret in %q", out)
		}
	}
}
