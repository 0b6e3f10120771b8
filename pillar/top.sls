base:
  '*':
    - hastack.topology
    - hastack.secrets
    - ignore_missing: True
