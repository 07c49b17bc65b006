#!/usr/bin/env bash
# The model-based rollback test, longer: seeded random sequences of deploys, failing deploys,
# canary promotes and aborts, rollbacks (with and without --version) and SIGKILLed deploys
# against a real demo-app fleet behind a real HAProxy, compared with a reference model of the
# release stack after every step (tests/integration/release_stack.rs).
#   scripts/model-rollback.sh [STEPS_PER_SEED] [SEEDS]     (default 1000 steps, 5 seeds)
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-1000}"
seeds="${2:-5}"
first="${RUNNER_MODEL_SEED:-$(date +%s)}"
for i in $(seq 0 $((seeds - 1))); do
    seed=$((first + i))
    echo "model-rollback: seed $seed, $steps steps"
    RUNNER_MODEL_SEED="$seed" RUNNER_MODEL_STEPS="$steps" \
        cargo test --quiet --locked --test integration \
        release_stack::rollback_follows_the_release_stack_through_random_sequences
done
echo "model-rollback: $seeds seed(s) x $steps steps agree with the model"
