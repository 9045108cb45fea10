package hubspot

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"closedloop/extract"
)

// stage is what a deal's stage says about the deal.
type stage struct {
	closed bool
	won    bool
}

// stageIndex finds a deal's stage by pipeline and stage id.
type stageIndex struct {
	byPipeline map[string]map[string]stage // pipeline id -> stage id -> stage
	byStage    map[string][]stage          // stage id -> the stages with that id, any pipeline
}

// lookup returns the stage of a deal, or the reason it cannot be found.
func (x stageIndex) lookup(pipeline, stageID string) (stage, string) {
	if stageID == "" {
		return stage{}, "deal has no dealstage"
	}
	if pipeline != "" {
		stages, ok := x.byPipeline[pipeline]
		if !ok {
			return stage{}, fmt.Sprintf("pipeline %q is not in %s: re-export the deal pipelines", pipeline, PipelinesFile)
		}
		st, ok := stages[stageID]
		if !ok {
			return stage{}, fmt.Sprintf("dealstage %q is not a stage of pipeline %q in %s: re-export the deal pipelines", stageID, pipeline, PipelinesFile)
		}
		return st, ""
	}
	// No pipeline property: stage ids are unique across an account's pipelines except
	// in odd imports, so accept the stage only when exactly one pipeline has it.
	switch sts := x.byStage[stageID]; len(sts) {
	case 1:
		return sts[0], ""
	case 0:
		return stage{}, fmt.Sprintf("dealstage %q is in no pipeline of %s: re-export the deal pipelines", stageID, PipelinesFile)
	default:
		return stage{}, fmt.Sprintf("deal has no pipeline and dealstage %q is in %d pipelines of %s", stageID, len(sts), PipelinesFile)
	}
}

// pipelinesDoc is the GET /crm/v3/pipelines/deals response.
type pipelinesDoc struct {
	Results []struct {
		ID     value `json:"id"`
		Label  value `json:"label"`
		Stages []struct {
			ID       value            `json:"id"`
			Label    value            `json:"label"`
			Metadata map[string]value `json:"metadata"`
		} `json:"stages"`
	} `json:"results"`
}

// readPipelines reads pipelines.json. It is small (a few pipelines of a few stages),
// so it is read whole. A file that cannot be used is a configuration error: without
// it no deal can be called won or lost.
func (e *Extractor) readPipelines() (stageIndex, error) {
	path := filepath.Join(e.cfg.Dir, PipelinesFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return stageIndex{}, fmt.Errorf("%s: %w", e.cfg.Spec, err)
	}
	var doc pipelinesDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return stageIndex{}, fmt.Errorf("%w: %s: %s is not a pipelines response: %v", extract.ErrConfig, e.cfg.Spec, path, err)
	}
	x := stageIndex{byPipeline: map[string]map[string]stage{}, byStage: map[string][]stage{}}
	for _, p := range doc.Results {
		if p.ID.s == "" {
			return stageIndex{}, fmt.Errorf("%w: %s: %s: a pipeline has no id", extract.ErrConfig, e.cfg.Spec, path)
		}
		stages := map[string]stage{}
		for _, s := range p.Stages {
			if s.ID.s == "" {
				return stageIndex{}, fmt.Errorf("%w: %s: %s: a stage of pipeline %q has no id", extract.ErrConfig, e.cfg.Spec, path, p.ID.s)
			}
			st, err := stageOf(s.Metadata)
			if err != nil {
				return stageIndex{}, fmt.Errorf("%w: %s: %s: stage %q of pipeline %q: %v", extract.ErrConfig, e.cfg.Spec, path, s.ID.s, p.ID.s, err)
			}
			stages[s.ID.s] = st
			x.byStage[s.ID.s] = append(x.byStage[s.ID.s], st)
		}
		x.byPipeline[p.ID.s] = stages
	}
	if len(x.byPipeline) == 0 {
		return stageIndex{}, fmt.Errorf("%w: %s: %s lists no pipeline", extract.ErrConfig, e.cfg.Spec, path)
	}
	return x, nil
}

// stageOf decides won and lost from a stage's metadata: a closed stage with
// probability 1 is won, one with probability 0 is lost. Labels are not looked at:
// users rename them ("Closed won" -> "Signed").
func stageOf(meta map[string]value) (stage, error) {
	closed := strings.EqualFold(strings.TrimSpace(meta["isClosed"].s), "true")
	if !closed {
		return stage{}, nil
	}
	p := strings.TrimSpace(meta["probability"].s)
	prob, err := strconv.ParseFloat(p, 64)
	if err != nil || math.IsNaN(prob) {
		return stage{}, fmt.Errorf("closed, but its probability %q is not a number, so won and lost cannot be told apart", p)
	}
	return stage{closed: true, won: prob >= 1}, nil
}
