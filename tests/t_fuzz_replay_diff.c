/*
 * t_fuzz_replay_diff - the short form of fuzz/fuzz_diff.c in make check:
 * every input of the kept corpus, fuzz/corpus/diff, is run once through the
 * fuzzer's own code, built here with the normal compiler (and with ASan and
 * UBSan by make sanitize), without libFuzzer.  A divergence or a crash
 * aborts with the fuzzer's message and the name of the input.
 *
 * Runs from the top of the source tree (as make check does); elsewhere it
 * says skip.  Plain TAP.
 */
#include "../fuzz/fuzz_diff.c"

#include "replay.h"

int main(int argc, char **argv)
{
	return replay_corpus("fuzz/corpus/diff", &argc, &argv, NULL,
	                     LLVMFuzzerTestOneInput);
}
