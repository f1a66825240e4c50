"""Resources: what a line is predicted to need (from the records of earlier runs),
cgroup limits, and the Ray cluster backend. Pure of the kernel: the kernel uses them."""
