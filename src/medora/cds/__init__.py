"""Clinical decision support from drug labels for CDS Hooks 2.0 (``medora.api.cds_hooks`` serves it).

``context`` reads the FHIR R4 resources of a hook call (orders, the patient's active medications and
conditions), ``drugs`` resolves medications to the drug labels in the library, ``findings`` finds the
label sentences that bear on this patient (interactions, contraindications, boxed warnings), and
``cards`` turns them into CDS Hooks cards whose details quote those sentences word for word.
"""
