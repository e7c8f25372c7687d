#!/usr/bin/env python3
"""Writes GitHub Classroom's autograding tests for this workbook: one test per
exercise, worth one point, that passes when `cargo checker check ID` exits 0
(the exercise is done; 1 when not). Classroom adds up the points.
Electives are left out, as `cargo checker grade` leaves them out unless
named: add their tests by hand for a class that takes one.

Usage, from the workbook's folder (after adding or removing exercises too):

    cargo checker list --format json \
        | python3 templates/github/classroom/autograding.py \
        > templates/github/classroom/autograding.json

scripts/check-ci-templates.py fails when the committed file is out of date.
"""
import json
import sys

# Minutes a test may take (Classroom's unit). The first test builds the
# exercise's dependencies (axum, tokio, SQLite) from nothing: minutes on a
# fresh runner; the others reuse that build.
TIMEOUT_MINUTES = 15


def tests(exercises):
    return [
        {
            "name": exercise["id"],
            "setup": "",
            "run": f"cargo checker check {exercise['id']} --color never",
            "input": "",
            "output": "",
            "comparison": "included",
            "timeout": TIMEOUT_MINUTES,
            "points": 1,
        }
        for exercise in exercises
        if not exercise.get("elective")
    ]


def main():
    listing = json.load(sys.stdin)
    json.dump({"tests": tests(listing["exercises"])}, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
