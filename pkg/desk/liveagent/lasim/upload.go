package lasim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

// Paths of the simulated file servlets (the real ones live on *.salesforce.com under
// /services/liveagent/…).
const (
	uploadPath = "/services/liveagent/file"
	cdmPath    = "/services/liveagent/cdm"
)

// RequestFile makes the agent ask the visitor for a file: the visitor's next poll gets
// FileTransfer{type:"Requested", fileToken, uploadServletUrl, cdmServletUrl}, pointing at the
// simulator's upload servlet.
func (s *Sim) RequestFile(id string) (FileRequest, error) {
	var fr FileRequest
	err := s.withChat(id, func(c *chat) error {
		if c.state != StateEstablished {
			return stateErr(c, "request a file in")
		}
		base := strings.TrimRight(s.opts.BaseURL, "/")
		if base == "" {
			base = c.baseURL
		}
		fr = FileRequest{
			FileToken:        simkit.RandomHex(16),
			Status:           FileRequested,
			UploadServletURL: base + uploadPath,
			CdmServletURL:    base + cdmPath,
		}
		c.fileReqs = append(c.fileReqs, &fr)
		s.fileTokens[fr.FileToken] = c
		s.queue(c, "FileTransfer", fileTransfer{
			Type: "Requested", FileToken: fr.FileToken,
			UploadServletURL: fr.UploadServletURL, CdmServletURL: fr.CdmServletURL,
		})
		s.notify(EventChatUpdated, c, "")
		return nil
	})
	return fr, err
}

// CancelFile withdraws a file request: FileTransfer{type:"Canceled"}.
func (s *Sim) CancelFile(id, token string) error {
	return s.withChat(id, func(c *chat) error {
		fr := c.fileRequest(token)
		if fr == nil {
			return fmt.Errorf("%w: no file request %s", ErrNoChat, token)
		}
		if fr.Status != FileRequested || c.closedForVisitor() {
			return fmt.Errorf("%w: file request is %s", ErrState, fr.Status)
		}
		fr.Status = FileCanceled
		s.queue(c, "FileTransfer", fileTransfer{Type: "Canceled", FileToken: token})
		s.notify(EventChatUpdated, c, "")
		return nil
	})
}

// File returns an uploaded file and its content.
func (s *Sim) File(id string, index int) (FileView, []byte, error) {
	var (
		v    FileView
		data []byte
	)
	err := s.withChat(id, func(c *chat) error {
		if index < 0 || index >= len(c.files) {
			return fmt.Errorf("%w: no file %d", ErrNoChat, index)
		}
		v, data = c.files[index].FileView, c.files[index].data
		return nil
	})
	return v, data, err
}

func (c *chat) fileRequest(token string) *FileRequest {
	for _, fr := range c.fileReqs {
		if fr.FileToken == token {
			return fr
		}
	}
	return nil
}

// handleUpload: the upload servlet. POST ?orgId=&chatKey=&fileToken=&encoding=UTF-8 with a
// multipart body of fields "file" and "filename".
func (s *Sim) handleUpload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	orgID, chatKey, token := q.Get("orgId"), q.Get("chatKey"), q.Get("fileToken")
	if orgID == "" || chatKey == "" || token == "" {
		plainResp(http.StatusBadRequest, "orgId, chatKey and fileToken are required").write(w)
		return
	}
	s.mu.Lock()
	c := s.fileTokens[token]
	rsp := s.takeFault("upload", c)
	if rsp == nil {
		rsp = s.checkUpload(c, orgID, chatKey, token)
	}
	s.mu.Unlock()
	if rsp != nil {
		rsp.write(w)
		return
	}

	name, ctype, data, rsp := s.readUpload(w, r)
	if rsp != nil {
		rsp.write(w)
		return
	}

	s.mu.Lock()
	rsp = func() *resp {
		if rsp := s.checkUpload(c, orgID, chatKey, token); rsp != nil {
			return rsp
		}
		sum := sha256.Sum256(data)
		f := &uploadedFile{
			FileView: FileView{
				Index: len(c.files), FileToken: token, Name: name, ContentType: ctype,
				Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), UploadedAt: s.opts.Now(),
			},
			data: data,
		}
		c.files = append(c.files, f)
		c.fileRequest(token).Status = FileUploaded
		s.queue(c, "FileTransfer", fileTransfer{Type: "Success", FileToken: token})
		s.opts.Logger.Info("file uploaded", "chat", c.id, "name", name, "size", len(data))
		s.notify(EventFileUploaded, c, name)
		return okResp
	}()
	s.mu.Unlock()
	rsp.write(w)
}

// checkUpload validates an upload against its file request. Called with s.mu held.
func (s *Sim) checkUpload(c *chat, orgID, chatKey, token string) *resp {
	if c == nil {
		return plainResp(http.StatusForbidden, "invalid file token")
	}
	fr := c.fileRequest(token)
	switch {
	case c.closedForVisitor():
		return forbidden(c)
	case chatKey != c.id:
		return plainResp(http.StatusForbidden, "chatKey does not match the file token")
	case (c.init != nil && orgID != c.init.OrganizationID) || (s.opts.OrgID != "" && orgID != s.opts.OrgID):
		return plainResp(http.StatusForbidden, "orgId does not match the chat")
	case fr == nil || fr.Status != FileRequested:
		return plainResp(http.StatusBadRequest, "file token already used or canceled")
	}
	return nil
}

func (s *Sim) readUpload(w http.ResponseWriter, r *http.Request) (name, ctype string, data []byte, rsp *resp) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxUploadBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return "", "", nil, plainResp(http.StatusBadRequest, "multipart/form-data body required")
	}
	var gotFile bool
	var fieldName string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", "", nil, plainResp(http.StatusBadRequest, "bad multipart body: "+err.Error())
		}
		switch part.FormName() {
		case "file":
			data, err = io.ReadAll(io.LimitReader(part, s.opts.MaxUploadBytes+1))
			if err != nil {
				return "", "", nil, plainResp(http.StatusBadRequest, "bad file part: "+err.Error())
			}
			if int64(len(data)) > s.opts.MaxUploadBytes {
				return "", "", nil, plainResp(http.StatusRequestEntityTooLarge, "file too large")
			}
			gotFile = true
			name = part.FileName()
			ctype = part.Header.Get("Content-Type")
		case "filename":
			b, _ := io.ReadAll(io.LimitReader(part, 1024))
			fieldName = strings.TrimSpace(string(b))
		default:
			_, _ = io.Copy(io.Discard, part)
		}
		part.Close()
	}
	if !gotFile {
		return "", "", nil, plainResp(http.StatusBadRequest, `multipart field "file" required`)
	}
	if fieldName != "" {
		name = fieldName
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return name, ctype, data, nil
}
