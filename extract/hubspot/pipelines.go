package hubspot

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"closedloop/extract"
)

// stage is what a deal's stage says about the deal, and how users see it.
type stage struct {
	closed   bool
	won      bool
	label    string // the stage's label; its id when the source has none
	pipeline string // the id of the stage's pipeline
	bad      string // why the stage's id or label cannot be stored: its deals are rejected
}

// stageIndex finds a deal's stage by pipeline and stage id.
type stageIndex struct {
	byPipeline map[string]map[string]stage // pipeline id -> stage id -> stage
	byStage    map[string][]stage          // stage id -> the stages with that id, any pipeline
	pipelines  map[string]string           // pipeline id -> label, when known
	badLabels  map[string]string           // pipeline id -> why its id or label cannot be stored
}

// usable returns st, or why deals in it are rejected: its or its pipeline's id or
// label cannot be stored.
func (x stageIndex) usable(st stage) (stage, string) {
	bad := st.bad
	if bad == "" {
		bad = x.badLabels[st.pipeline]
	}
	if bad != "" {
		return stage{}, "the deal's stage: " + bad + "; fix the stage or pipeline in HubSpot and export the pipelines again"
	}
	return st, ""
}

// pipelineLabel returns the label of pipeline id; the id when the source has none.
func (x stageIndex) pipelineLabel(id string) string {
	if l := x.pipelines[id]; l != "" {
		return l
	}
	return id
}

// entered finds the stage a dealstage history entry names, or the reason it cannot
// be found: in pipeline, the deal's current one, first (a deal may have moved from
// another pipeline, whose stage ids differ), else in the one pipeline that has the
// stage id.
func (x stageIndex) entered(pipeline, stageID string) (stage, string) {
	if st, ok := x.byPipeline[pipeline][stageID]; ok {
		return x.usable(st)
	}
	switch sts := x.byStage[stageID]; len(sts) {
	case 1:
		return x.usable(sts[0])
	case 0:
		return stage{}, fmt.Sprintf("dealstage history names stage %q, which is in none of the deal pipelines read (a stage deleted from its pipeline keeps its history): re-export the pipelines together with the deals", stageID)
	default:
		return stage{}, fmt.Sprintf("dealstage history names stage %q, which is not in the deal's pipeline %q but in %d others, so its label is ambiguous: rename the stage ids apart in HubSpot", stageID, pipeline, len(sts))
	}
}

// lookup returns the stage of a deal, or the reason it cannot be found.
func (x stageIndex) lookup(pipeline, stageID string) (stage, string) {
	if stageID == "" {
		return stage{}, "deal has no dealstage, so it cannot be called open, won or lost: set its stage in HubSpot"
	}
	if pipeline != "" {
		stages, ok := x.byPipeline[pipeline]
		if !ok {
			return stage{}, fmt.Sprintf("pipeline %q is not among the deal pipelines read: re-export the pipelines together with the deals", pipeline)
		}
		st, ok := stages[stageID]
		if !ok {
			return stage{}, fmt.Sprintf("dealstage %q is not a stage of pipeline %q among the deal pipelines read: re-export the pipelines together with the deals", stageID, pipeline)
		}
		return x.usable(st)
	}
	// No pipeline property: stage ids are unique across an account's pipelines except
	// in odd imports, so accept the stage only when exactly one pipeline has it.
	switch sts := x.byStage[stageID]; len(sts) {
	case 1:
		return x.usable(sts[0])
	case 0:
		return stage{}, fmt.Sprintf("dealstage %q is in none of the deal pipelines read: re-export the pipelines together with the deals", stageID)
	default:
		return stage{}, fmt.Sprintf("deal has no pipeline and dealstage %q is in %d pipelines: set the deal's pipeline in HubSpot", stageID, len(sts))
	}
}

// add records stage st of a pipeline; an empty label becomes the stage id.
func (x *stageIndex) add(pipeline, stageID string, st stage) {
	st.pipeline = pipeline
	if st.label == "" {
		st.label = stageID
	}
	if x.byPipeline == nil {
		x.byPipeline, x.byStage = map[string]map[string]stage{}, map[string][]stage{}
	}
	if x.byPipeline[pipeline] == nil {
		x.byPipeline[pipeline] = map[string]stage{}
	}
	if _, dup := x.byPipeline[pipeline][stageID]; !dup {
		x.byStage[stageID] = append(x.byStage[stageID], st)
	}
	x.byPipeline[pipeline][stageID] = st
}

// labelPipeline records the label of pipeline id; bad says why the id or label
// cannot be stored, "" when they can.
func (x *stageIndex) labelPipeline(id, label, bad string) {
	if x.pipelines == nil {
		x.pipelines, x.badLabels = map[string]string{}, map[string]string{}
	}
	x.pipelines[id] = label
	if bad != "" {
		x.badLabels[id] = bad
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

// index builds the stage index of a pipelines response. from names the response in
// errors (a file, or the API call). A response that cannot be used is a
// configuration error: without it no deal can be called won or lost.
func (doc *pipelinesDoc) index(spec, from string) (stageIndex, error) {
	var x stageIndex
	for _, p := range doc.Results {
		pid := p.ID.str()
		if pid == "" {
			return stageIndex{}, fmt.Errorf("%w: %s: %s: a pipeline has no id", extract.ErrConfig, spec, from)
		}
		for _, s := range p.Stages {
			sid := s.ID.str()
			if sid == "" {
				return stageIndex{}, fmt.Errorf("%w: %s: %s: a stage of pipeline %q has no id", extract.ErrConfig, spec, from, pid)
			}
			st, err := stageOf(s.Metadata["isClosed"].str(), "", s.Metadata["probability"].str())
			if err != nil {
				return stageIndex{}, fmt.Errorf("%w: %s: %s: stage %q of pipeline %q: %v", extract.ErrConfig, spec, from, sid, pid, err)
			}
			st.label = s.Label.str()
			st.bad = badText("stage label", st.label, "stage id", sid, "pipeline id", pid)
			x.add(pid, sid, st)
		}
		x.labelPipeline(pid, p.Label.str(), badText("pipeline label", p.Label.str(), "pipeline id", pid))
	}
	if len(x.byPipeline) == 0 {
		return stageIndex{}, fmt.Errorf("%w: %s: %s lists no deal pipeline, so won and lost deals cannot be told apart", extract.ErrConfig, spec, from)
	}
	return x, nil
}

// stageOf decides won and lost from a stage's metadata: a closed stage is won when
// the source flags it so (closedWon, Fivetran's closed_won), else when its
// probability is 1; it is lost otherwise. Labels are not looked at: users rename
// them ("Closed won" -> "Signed").
func stageOf(isClosed, closedWon, probability string) (stage, error) {
	closed, _ := strconv.ParseBool(strings.TrimSpace(isClosed))
	if !closed {
		return stage{}, nil
	}
	if won, err := strconv.ParseBool(strings.TrimSpace(closedWon)); err == nil {
		return stage{closed: true, won: won}, nil
	}
	p := strings.TrimSpace(probability)
	prob, err := strconv.ParseFloat(p, 64)
	if err != nil || math.IsNaN(prob) {
		return stage{}, fmt.Errorf("closed, but its probability %q is not a number, so won and lost cannot be told apart", p)
	}
	return stage{closed: true, won: prob >= 1}, nil
}
