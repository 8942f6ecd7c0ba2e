"""Repeat matching: identical titles, paraphrased repeats across kinds, hard negatives, short tokens."""

import datetime as dt

import pytest
from django.utils import timezone

from learninghub.insights.repeats import services
from learninghub.insights.repeats.models import CandidateStatus, RepeatCandidate
from learninghub.insights.repeats.similarity import tokens
from learninghub.insights.repeats.tasks import detect_repeat
from postmortems.models import PostMortem
from tests.factories.experiments import ExperimentFactory, LessonFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
OOM = ("torch.OutOfMemoryError", "CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.35 GiB total capacity)")


def crashed_run(team, title, hypothesis, lesson, days_ago, error=OOM, approach=""):
    experiment = ExperimentFactory(team=team, crashed=True, title=title, hypothesis=hypothesis, approach=approach,
                                   error_type=error[0], error_message=error[1],
                                   started_at=NOW - dt.timedelta(days=days_ago))
    LessonFactory(experiment=experiment, text=lesson)
    return experiment


def incident(team, title, what_happened, root_cause, days_ago, **extra):
    return PostMortemFactory(team=team, title=title, what_happened=what_happened, root_cause=root_cause,
                             failure_mode="infrastructure", occurred_at=NOW - dt.timedelta(days=days_ago), **extra)


def candidate_for(record):
    field = "experiment" if record.__class__.__name__ == "Experiment" else "postmortem"
    return RepeatCandidate.objects.filter(**{field: record}).first()


def test_an_identical_title_is_always_flagged_even_in_other_words(team):
    earlier = incident(team, "Feature engineering pipeline failure",
                       "- The daily feature job wrote an empty partition.",
                       "- Partition dates were computed in local time while upstream writes UTC.", 120)
    later = incident(team, "Feature engineering pipeline failure",
                     "- Yesterday's ranker features were missing.",
                     "- A backfill picked the wrong day's folder.", 3)
    detect_repeat.delay("postmortem", later.pk)
    candidate = candidate_for(later)
    assert candidate is not None and candidate.earlier == earlier
    assert candidate.status == CandidateStatus.PENDING, "same title, causes unclear: a lead decides"
    assert "identical title" in candidate.decisions.get().note


def test_an_identical_title_with_the_same_cause_is_linked_automatically(team):
    earlier = incident(team, "Settlement batch failed", "- The settlement file was not sent to the bank.",
                       "- The bank changed the host key of its SFTP server; our known_hosts pinned the old key.", 60)
    later = incident(team, "Settlement batch failed", "- Settlement was sent 5 hours late.",
                     "- The bank rotated its SFTP host key again and known_hosts still pinned the old one.", 2)
    detect_repeat.delay("postmortem", later.pk)
    later.refresh_from_db()
    assert later.repeat_of == earlier and later.repeat_link_source == "automatic"


def test_a_postmortem_repeating_a_failed_experiments_cause_is_found(team, lead):
    run = crashed_run(team, "Heavier image augmentation with 16 loader workers",
                      "RandAugment with 16 loader processes keeps the GPUs busy.",
                      "The pod's shared memory (/dev/shm) was the 64 MB default, too small for 16 DataLoader "
                      "workers; mount a memory-backed volume at /dev/shm.", 90,
                      error=("RuntimeError", "DataLoader worker (pid 4121) is killed by signal: Bus error."))
    crashed_run(team, "Bigger batches for the two-tower model", "A batch of 65k gives more negatives.",
                "The in-batch logits grow with the square of the batch size.", 60)
    later = incident(team, "Bus errors in data loading on the new cluster",
                     "- Vision jobs crashed in the first minutes with bus errors in loader workers.",
                     "- The new cluster's pod template had no shm volume, so containers got 64 MB of "
                     "shared memory again.", 2)
    detect_repeat.delay("postmortem", later.pk)
    candidate = candidate_for(later)
    assert candidate is not None and candidate.earlier_experiment == run and candidate.earlier_postmortem is None
    assert candidate.status == CandidateStatus.PENDING, "repeat_of can't point at an experiment: a lead decides"
    assert {"shm", "memory"} & set(candidate.matched_terms)
    services.confirm_candidate(candidate=candidate, user=lead)
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.CONFIRMED
    assert PostMortem.objects.get(pk=later.pk).repeat_of is None, "never the experiment's id in a post-mortem FK"


def test_same_error_different_cause_is_not_linked_automatically(team):
    crashed_run(team, "Two-tower retrieval with full catalog embeddings",
                "Training the item tower over the whole catalog improves long-tail recall.",
                "The item embedding table was replicated on every GPU; shard the embedding table.", 60)
    later = crashed_run(team, "Higher negative sampling rate for retrieval",
                        "Sampling 4x more negatives per positive improves retrieval recall.",
                        "Mixed precision was switched off in the config, so activations took twice the memory.", 2)
    detect_repeat.delay("experiment", later.pk)
    later.refresh_from_db()
    assert later.repeat_of is None
    candidate = candidate_for(later)
    assert candidate is None or candidate.status == CandidateStatus.PENDING


def test_boilerplate_alone_does_not_make_a_repeat(team):
    causes = ["The embedding table was replicated on every GPU.", "The attention kernel fell back to the math path.",
              "Gradient accumulation kept every micro-batch graph alive.", "A memory leak in the metrics hook."]
    for days, cause in enumerate(causes, start=30):
        crashed_run(team, f"Run {days}: {cause[:20]}", "Training finishes on one node.", cause, days)
    later = crashed_run(team, "Learning-rate warmup for the ranking model", "A longer warmup stabilises the loss.",
                        "The data loader shuffled labels and features independently.", 2)
    detect_repeat.delay("experiment", later.pk)
    assert candidate_for(later) is None


def test_short_tokens_and_numbers_are_kept_apart():
    assert tokens("exp 12") != tokens("exp 31")
    assert {"oom", "p95", "v2", "12"} <= set(tokens("OOM at p95 in v2 of exp 12"))
    assert tokens("CUDA out of memory") == tokens("cuda OOM")
    assert tokens("experiments diverged") == tokens("experiment diverges")


def test_the_same_run_number_is_matched_and_a_different_one_is_not_linked(team):
    twelve = ExperimentFactory(team=team, failed=True, failure_mode="other", title="Tokenizer ablation exp 12",
                               hypothesis="A 32k vocabulary matches the 50k one on validation perplexity.",
                               approach="Retrain the tokenizer with 32k entries.",
                               started_at=NOW - dt.timedelta(days=60))
    thirty_one = ExperimentFactory(team=team, failed=True, failure_mode="other", title="Tokenizer ablation exp 31",
                                   hypothesis="Byte fallback removes unknown tokens without hurting perplexity.",
                                   approach="Retrain the tokenizer with byte fallback.",
                                   started_at=NOW - dt.timedelta(days=30))
    detect_repeat.delay("experiment", thirty_one.pk)
    thirty_one.refresh_from_db()
    assert thirty_one.repeat_of is None
    rerun = ExperimentFactory(team=team, failed=True, failure_mode="other",
                              title="Tokenizer ablation exp 12 (rerun on the cleaned corpus)",
                              hypothesis="On the cleaned corpus a 32k vocabulary matches the 50k one on perplexity.",
                              approach="Same as exp 12 on the deduplicated corpus.",
                              started_at=NOW - dt.timedelta(days=2))
    detect_repeat.delay("experiment", rerun.pk)
    assert candidate_for(rerun).earlier == twelve


def test_another_teams_identical_failure_is_never_matched(team, other_team):
    incident(other_team, "Payment webhooks delayed by hours", "- Webhooks were 3 hours late.",
             "- Queue consumers capped at 4 replicas by the autoscaler.", 40)
    mine = incident(team, "Payment webhooks delayed by hours", "- Webhooks were 3 hours late.",
                    "- Queue consumers capped at 4 replicas by the autoscaler.", 2)
    detect_repeat.delay("postmortem", mine.pk)
    assert not RepeatCandidate.objects.exists()
