# ProcScope's private helper package; sitecustomize.py loads _procscope.agent only once multiprocessing is imported.
