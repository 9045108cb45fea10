package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	run "google.golang.org/api/run/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// binary is where the Dockerfile puts closedloop in the image.
const binary = "/usr/local/bin/closedloop"

// deployEnv is one container's environment as the manifests give it: a value, or a
// secret's (which the test stands in for).
type deployEnv map[string]string

// checkInvocation checks that a container of a manifest runs a valid closedloop
// invocation: the image's binary, run or check, and an environment that names only
// real settings, takes every credential from a secret, and passes the command's own
// configuration loader.
func checkInvocation(t *testing.T, where string, command, args []string, env deployEnv, secret map[string]bool) {
	t.Helper()
	require.Equal(t, []string{binary}, command, where)
	require.NotEmpty(t, args, where)
	require.Contains(t, []string{"run", "check"}, args[0], where)
	known := map[string]bool{}
	for _, s := range settings() {
		known[s.env] = true
	}
	for name := range env {
		require.True(t, known[name], "%s: %s is not a closedloop setting", where, name)
		if strings.HasSuffix(name, "_TOKEN") || strings.HasSuffix(name, "_SECRET") {
			require.True(t, secret[name], "%s: %s must come from a secret, not the manifest", where, name)
		}
	}
	for _, s := range settings() {
		if _, ok := env[s.env]; !ok {
			t.Setenv(s.env, "")
			os.Unsetenv(s.env)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	_, err := loadConfig(args[0], args[1:], io.Discard)
	require.NoError(t, err, "%s: closedloop %s refuses the manifest's settings", where, strings.Join(args, " "))
}

// TestDeployKubernetesCronJob parses deploy/kubernetes-cronjob.yaml strictly against
// the Kubernetes API's own Go types (k8s.io/api: an unknown or misspelt field, a
// duplicate key or a wrong type fails) and checks its shape and its closedloop
// invocations.
func TestDeployKubernetesCronJob(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes-cronjob.yaml"))
	require.NoError(t, err)
	var cm corev1.ConfigMap
	var pvc corev1.PersistentVolumeClaim
	var cj batchv1.CronJob
	kinds := map[string]bool{}
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		var head struct{ APIVersion, Kind string }
		require.NoError(t, yaml.Unmarshal(doc, &head))
		kinds[head.APIVersion+" "+head.Kind] = true
		var into any
		switch head.APIVersion + " " + head.Kind {
		case "v1 ConfigMap":
			into = &cm
		case "v1 PersistentVolumeClaim":
			into = &pvc
		case "batch/v1 CronJob":
			into = &cj
		default:
			t.Fatalf("unexpected document %s %s", head.APIVersion, head.Kind)
		}
		require.NoError(t, yaml.UnmarshalStrict(doc, into), head.Kind)
	}
	require.Len(t, kinds, 3)
	require.ErrorContains(t, yaml.UnmarshalStrict([]byte("spec:\n  concurrencyPolicyy: Forbid\n"), &batchv1.CronJob{}), "unknown field",
		"the parse is strict: a misspelt field fails")

	require.Len(t, strings.Fields(cj.Spec.Schedule), 5, "a five-field cron schedule")
	require.Equal(t, batchv1.ForbidConcurrent, cj.Spec.ConcurrencyPolicy)
	job := cj.Spec.JobTemplate.Spec
	require.NotNil(t, job.BackoffLimit)
	require.LessOrEqual(t, *job.BackoffLimit, int32(1), "the run is idempotent: at most one retry")
	require.NotNil(t, job.ActiveDeadlineSeconds)
	pod := job.Template.Spec
	require.Equal(t, corev1.RestartPolicyNever, pod.RestartPolicy)
	require.Len(t, pod.InitContainers, 1)
	require.Len(t, pod.Containers, 1)

	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	data := volumes["data"].PersistentVolumeClaim
	require.NotNil(t, data, "the DuckDB file on a PersistentVolumeClaim")
	require.Equal(t, pvc.Name, data.ClaimName)

	for i, c := range []corev1.Container{pod.InitContainers[0], pod.Containers[0]} {
		want := []string{"check", "run"}[i]
		require.Equal(t, want, c.Args[0], "the init container is the pre-flight check, then the run")
		require.False(t, c.Resources.Limits.Memory().IsZero(), "%s: a memory limit", c.Name)
		require.False(t, c.Resources.Requests.Cpu().IsZero(), "%s: a CPU request", c.Name)
		env, secret := deployEnv{}, map[string]bool{}
		for _, from := range c.EnvFrom {
			require.NotNil(t, from.ConfigMapRef, c.Name)
			require.Equal(t, cm.Name, from.ConfigMapRef.Name, c.Name)
			for k, v := range cm.Data {
				env[k] = v
			}
		}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
				env[e.Name], secret[e.Name] = "secret-from-"+e.ValueFrom.SecretKeyRef.Name, true
			default:
				env[e.Name] = e.Value
			}
		}
		_, wh, _ := strings.Cut(env["CLOSEDLOOP_WAREHOUSE"], "duckdb:")
		mounted := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
			return m.Name == "data" && !m.ReadOnly && strings.HasPrefix(wh, m.MountPath+"/")
		})
		require.True(t, mounted, "%s: the warehouse %s is on the data volume, writable", c.Name, wh)
		checkInvocation(t, "kubernetes-cronjob.yaml "+c.Name, c.Command, c.Args, env, secret)
	}
}

// TestDeployCloudRunJob parses deploy/cloud-run-job.yaml strictly against the Cloud Run
// Admin API's v1 Job type (google.golang.org/api/run/v1, the resource `gcloud run jobs
// replace` sends) and checks its shape and its closedloop invocation.
func TestDeployCloudRunJob(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "cloud-run-job.yaml"))
	require.NoError(t, err)
	var job run.Job
	require.NoError(t, yaml.UnmarshalStrict(b, &job))
	require.Equal(t, "run.googleapis.com/v1", job.ApiVersion)
	require.Equal(t, "Job", job.Kind)
	require.NotEmpty(t, job.Metadata.Name)
	exec := job.Spec.Template.Spec
	require.EqualValues(t, 1, exec.TaskCount, "one task: the run is one process")
	task := exec.Template.Spec
	require.Positive(t, task.TimeoutSeconds)
	require.LessOrEqual(t, task.MaxRetries, int64(1), "the run is idempotent: at most one retry")
	require.NotEmpty(t, task.ServiceAccountName)
	require.Len(t, task.Containers, 1)
	c := task.Containers[0]
	require.NotEmpty(t, c.Image)
	require.NotEmpty(t, c.Resources.Limits["memory"])
	env, secret := deployEnv{}, map[string]bool{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			require.NotEmpty(t, e.ValueFrom.SecretKeyRef.Name, e.Name)
			require.NotEmpty(t, e.ValueFrom.SecretKeyRef.Key, "%s: a Secret Manager version", e.Name)
			env[e.Name], secret[e.Name] = "secret-from-"+e.ValueFrom.SecretKeyRef.Name, true
		default:
			env[e.Name] = e.Value
		}
	}
	require.True(t, strings.HasPrefix(env["CLOSEDLOOP_WAREHOUSE"], "bigquery:"), "a task's disk does not outlive it: the warehouse is BigQuery")
	checkInvocation(t, "cloud-run-job.yaml", c.Command, c.Args, env, secret)

	// The Dockerfile's binary is the one the manifests run.
	df, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	require.NoError(t, err)
	require.Contains(t, string(df), "COPY --from=build /out/closedloop "+binary)
}
