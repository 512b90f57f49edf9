"""Run the binding's unittest tests and print TAP, for prove."""

import os
import sys
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, note=""):
        self.n += 1
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n,
                                test.id().rsplit(".", 1)[-1], note),
              flush=True)

    def addSuccess(self, test):
        self._line(True, test)

    def addSkip(self, test, reason):
        self._line(True, test, " # SKIP " + reason)

    def _fail(self, test, err):
        # The why on stderr, which prove shows (it hides "#" lines on
        # stdout unless verbose), so that a failure in a quiet run says
        # what failed.
        self._line(False, test)
        for line in self._exc_info_to_string(err, test).splitlines():
            print("#   " + line, file=sys.stderr, flush=True)

    def addFailure(self, test, err):
        self._fail(test, err)

    def addError(self, test, err):
        self._fail(test, err)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    suite = unittest.defaultTestLoader.discover(here, top_level_dir=here)
    print("1..%d" % suite.countTestCases(), flush=True)
    result = TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
