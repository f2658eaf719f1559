// Command kstatus prints the kstatus status (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute) of
// Kubernetes objects: it reads a stream of JSON objects on stdin and writes one JSON line per object,
// {"status": ..., "message": ...}, so tests judge live objects with the real library instead of
// re-implementing its rules.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Error   string `json:"error,omitempty"`
}

func main() {
	dec := json.NewDecoder(bufio.NewReader(os.Stdin))
	out := json.NewEncoder(os.Stdout)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			fmt.Fprintln(os.Stderr, "kstatus: reading JSON:", err)
			os.Exit(2)
		}
		var r result
		// Unstructured's own decoder turns integers into int64, as the apiserver's clients do
		// (kstatus reads metadata.generation as int64).
		u := &unstructured.Unstructured{}
		res, err := (*status.Result)(nil), u.UnmarshalJSON(raw)
		if err == nil {
			res, err = status.Compute(u)
		}
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Status, r.Message = res.Status.String(), res.Message
		}
		if err := out.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "kstatus: writing:", err)
			os.Exit(2)
		}
	}
}
