"""Scenario files run through the whole chain: simulator, edge agent, broker and hub, judged per expectation.

`model` reads the files, `evaluate` judges what was observed (pure), `runner` composes and drives the parts,
`report` prints and writes JUnit XML, `cli` is `qmon sim run`. `library/` holds the shipped scenarios.
"""
