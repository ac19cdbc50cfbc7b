package line

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/line-sf-bridge/bridge/configs"
)

// NoticeKey names a notice template. Every language file defines every key.
type NoticeKey string

// Notice keys: texts sent to the LINE user, and notes shown to the agent.
const (
	NoticeWaiting         NoticeKey = "waiting"
	NoticeQueued          NoticeKey = "queued"
	NoticeQueueUpdate     NoticeKey = "queue_update"
	NoticeAgentJoined     NoticeKey = "agent_joined"
	NoticeTransferred     NoticeKey = "transferred"
	NoticeAgentLeft       NoticeKey = "agent_left"
	NoticeFileRequested   NoticeKey = "file_requested"
	NoticeRequestFailed   NoticeKey = "request_failed"
	NoticeEnded           NoticeKey = "ended"
	NoticeEndedByAgent    NoticeKey = "ended_by_agent"
	NoticeEndedByCustomer NoticeKey = "ended_by_customer"
	NoticeEndedExpired    NoticeKey = "ended_expired"

	NoteSticker     NoticeKey = "note_sticker"
	NoteImage       NoticeKey = "note_image"
	NoteVideo       NoticeKey = "note_video"
	NoteAudio       NoticeKey = "note_audio"
	NoteFile        NoticeKey = "note_file"
	NoteLocation    NoticeKey = "note_location"
	NoteUnsupported NoticeKey = "note_unsupported"
)

// NoticeKeys lists every key a language file must define.
var NoticeKeys = []NoticeKey{
	NoticeWaiting, NoticeQueued, NoticeQueueUpdate, NoticeAgentJoined, NoticeTransferred,
	NoticeAgentLeft, NoticeFileRequested, NoticeRequestFailed, NoticeEnded, NoticeEndedByAgent,
	NoticeEndedByCustomer, NoticeEndedExpired,
	NoteSticker, NoteImage, NoteVideo, NoteAudio, NoteFile, NoteLocation, NoteUnsupported,
}

// NoticeData is what a template can refer to. A template that names any
// other field fails to render, and [ParseNotices] renders every template
// with sample data, so such a mistake is caught at start-up.
type NoticeData struct {
	Name        string // agent name
	HasPosition bool   // Position is known
	Position    int    // queue position
	WaitMinutes int    // estimated wait, minutes (0 = unknown)
	FileName    string
	Title       string // location title
	Address     string // location address
	Latitude    string
	Longitude   string
}

// SampleNoticeData has every field set; templates are checked against it.
var SampleNoticeData = NoticeData{
	Name: "Sato", HasPosition: true, Position: 3, WaitMinutes: 4, FileName: "receipt.pdf",
	Title: "LINE Tower", Address: "Tokyo", Latitude: "35.6812", Longitude: "139.7671",
}

// Notices holds the parsed templates of every language. It is immutable and
// safe for concurrent use.
type Notices struct {
	byLang map[string]map[NoticeKey]*template.Template
}

// ParseNotices parses language files (language tag → YAML mapping of key →
// text/template). Every file must define exactly [NoticeKeys], and every
// template must render with both zero and sample data.
func ParseNotices(files map[string][]byte) (*Notices, error) {
	if len(files) == 0 {
		return nil, errors.New("line: no notice templates")
	}
	n := &Notices{byLang: make(map[string]map[NoticeKey]*template.Template)}
	var errs []error
	for lang, data := range files {
		lang = normLang(lang)
		var raw map[string]string
		if err := yaml.Unmarshal(data, &raw); err != nil {
			errs = append(errs, fmt.Errorf("line: notices %s: %w", lang, err))
			continue
		}
		tmpls := make(map[NoticeKey]*template.Template, len(raw))
		for k, text := range raw {
			key := NoticeKey(k)
			if !slices.Contains(NoticeKeys, key) {
				errs = append(errs, fmt.Errorf("line: notices %s: unknown key %q", lang, k))
				continue
			}
			t, err := template.New(lang + "." + k).Option("missingkey=error").Parse(text)
			if err != nil {
				errs = append(errs, fmt.Errorf("line: notices %s: %w", lang, err))
				continue
			}
			for _, d := range []NoticeData{{}, SampleNoticeData} {
				if err := t.Execute(&bytes.Buffer{}, d); err != nil {
					errs = append(errs, fmt.Errorf("line: notices %s: %w", lang, err))
					break
				}
			}
			tmpls[key] = t
		}
		for _, key := range NoticeKeys {
			if _, ok := raw[string(key)]; !ok {
				errs = append(errs, fmt.Errorf("line: notices %s: missing key %q", lang, key))
			}
		}
		n.byLang[lang] = tmpls
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return n, nil
}

// Languages lists the languages that have templates, sorted.
func (n *Notices) Languages() []string { return slices.Sorted(maps.Keys(n.byLang)) }

// Has reports whether lang has templates.
func (n *Notices) Has(lang string) bool { _, ok := n.byLang[normLang(lang)]; return ok }

// Render renders key in lang, trimmed of surrounding blank space. An unknown
// language or key is an error.
func (n *Notices) Render(lang string, key NoticeKey, d NoticeData) (string, error) {
	tmpls, ok := n.byLang[normLang(lang)]
	if !ok {
		return "", fmt.Errorf("line: no notices in language %q", lang)
	}
	t, ok := tmpls[key]
	if !ok {
		return "", fmt.Errorf("line: no notice %q in language %q", key, lang)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("line: notice %s/%s: %w", lang, key, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// pick returns the language for a chat: the visitor's when it has
// templates, else def.
func (n *Notices) pick(visitorLang, def string) string {
	if l := normLang(visitorLang); l != "" && n.Has(l) {
		return l
	}
	return def
}

// normLang reduces a language tag to its primary subtag: "en-US" → "en".
func normLang(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexAny(s, "-_"); i >= 0 {
		s = s[:i]
	}
	return s
}

// formatCoord formats a coordinate for NoticeData.
func formatCoord(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// builtinNotices parses configs/messages once.
var builtinNotices = sync.OnceValues(func() (*Notices, error) { return ParseNotices(configs.Messages()) })

// DefaultNotices returns the notices shipped in configs/messages.
func DefaultNotices() (*Notices, error) { return builtinNotices() }

func knownLanguage(lang string) bool {
	n, err := builtinNotices()
	return err == nil && n.Has(lang)
}

func languages() []string {
	n, err := builtinNotices()
	if err != nil {
		return nil
	}
	return n.Languages()
}
