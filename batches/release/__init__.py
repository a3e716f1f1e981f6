"""From the QA decision on: disposition and QP certification, the signed batch record, delivery.

This layer sits above QC (it reads the release gate from qc.selectors) and above the batches core
(models, step and custody services); nothing below imports it.
"""
