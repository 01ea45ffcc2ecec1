"""A class for the similarity report: independent honest solutions, written in genuinely different
styles, a disguised copy of a notebook, and notebooks with nothing but the release's given code."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import nbformat

from submissions import RELEASE, SOLUTION

_MARKER = re.compile(r"^( *)# YOUR CODE HERE\n *raise NotImplementedError\(\)\n?", re.MULTILINE)


def filled(skeleton: str, *bodies: str) -> str:
    """The release's answer cell with each ``# YOUR CODE HERE`` replaced, in order, by a body of code,
    indented where the marker stood, as a student fills it in."""
    parts = iter(bodies)
    return _MARKER.sub(lambda m: textwrap.indent(textwrap.dedent(next(parts)).strip("\n"), m.group(1)) + "\n",
                       skeleton)


def answer_cells(path: Path) -> dict[str, str]:
    nb = nbformat.read(path, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def submit(course: Path, student: str, cells: dict[str, str], base: Path = RELEASE) -> Path:
    """Write ``submitted/<student>/cnn/cnn.ipynb``: ``base`` with the given answer cells' sources replaced."""
    nb = nbformat.read(base, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in cells:
            cell.source = cells[grade_id]
    path = course / "submitted" / student / "cnn" / "cnn.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def honest(bodies: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Every answer cell of the release, filled with these bodies."""
    skeleton = answer_cells(RELEASE)
    return {grade_id: filled(skeleton[grade_id], *parts) for grade_id, parts in bodies.items()}


# Three honest students, each with a style of their own in every cell.
SEQUENTIAL = {
    "fc_class": ("""
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 512), nn.ReLU(),
            nn.Linear(512, 256), nn.ReLU(),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, 10),
        )""", "return self.net(x)"),
    "fc_params": ("""
        sizes = [784, 512, 256, 128, 10]
        fc_num_params = 784 * 512 + 512 + 512 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10""",),
    "loss_opt": ("""
        criterion = nn.CrossEntropyLoss()
        opt = torch.optim.SGD(params=model_fc.parameters(), lr=0.1)""",),
    "train_model": ("""
        opt.zero_grad()
        logits = model(x)
        loss = crit(logits, y)
        loss.backward()
        opt.step()""", """
        model.eval()
        hits, seen = 0, 0
        with torch.no_grad():
            for xb, yb in dl_te:
                predicted = model(xb.to(device)).max(dim=1).indices
                hits += int((predicted == yb.to(device)).sum())
                seen += yb.numel()
        test_acc = hits / seen"""),
    "lenet_class": ("""
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 7 * 7, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))""",
                    "return self.classifier(self.features(x))"),
    "lenet_params": ("lenet_num_params = 6*9 + 6 + 16*6*9 + 16 + 784*120 + 120 + 120*84 + 84 + 84*10 + 10",),
    "cnn_class": ("""
        blocks = []
        channels = 1
        for width in filters:
            blocks += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels = width
        self.body = nn.Sequential(*blocks, nn.Flatten())
        self.head = nn.Sequential(nn.Linear(channels * 9, 128), nn.ReLU(), nn.Linear(128, 10))""",
                  "return self.head(self.body(x))"),
    "cnn_params": ("""
        conv = (1 * 16 * 9 + 16) + (16 * 32 * 9 + 32) + (32 * 64 * 9 + 64)
        dense = (576 * 128 + 128) + (128 * 10 + 10)
        cnn_num_params = conv + dense""",),
}

FUNCTIONAL = {
    "fc_class": ("""
        self.hidden = nn.ModuleList([nn.Linear(784, 512), nn.Linear(512, 256), nn.Linear(256, 128)])
        self.out = nn.Linear(128, 10)""", """
        x = x.view(-1, 784)
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.out(x)"""),
    "fc_params": ("fc_num_params = (784 + 1) * 512 + (512 + 1) * 256 + (256 + 1) * 128 + (128 + 1) * 10",),
    "loss_opt": ("""
        def criterion(output, target):
            return F.cross_entropy(output, target)
        opt = torch.optim.SGD(model_fc.parameters(), 0.1)""",),
    "train_model": ("""
        model.zero_grad()
        logits = model.forward(x)
        loss = crit(logits, y)
        loss.backward()
        opt.step()""", """
        model.eval()
        right = torch.tensor(0)
        for batch, labels in dl_te:
            with torch.inference_mode():
                right += model(batch.to(device)).argmax(-1).eq(labels.to(device)).sum().cpu()
        test_acc = right.item() / len(dl_te.dataset)"""),
    "lenet_class": ("""
        self.c1 = nn.Conv2d(in_channels=1, out_channels=6, kernel_size=3, padding=1)
        self.c2 = nn.Conv2d(in_channels=6, out_channels=16, kernel_size=3, padding=1)
        self.f1, self.f2, self.f3 = nn.Linear(784, 120), nn.Linear(120, 84), nn.Linear(84, 10)""", """
        out = F.max_pool2d(torch.relu(self.c1(x)), kernel_size=2)
        out = F.max_pool2d(torch.relu(self.c2(out)), kernel_size=2)
        out = out.reshape(out.shape[0], -1)
        return self.f3(torch.relu(self.f2(torch.relu(self.f1(out)))))"""),
    "lenet_params": ("""
        lenet_num_params = ((9 + 1) * 6 + (6 * 9 + 1) * 16
                            + (784 + 1) * 120 + (120 + 1) * 84 + (84 + 1) * 10)""",),
    "cnn_class": ("""
        a, b, c = filters
        self.convs = nn.ModuleList([nn.Conv2d(1, a, 3, 1, 1), nn.Conv2d(a, b, 3, 1, 1), nn.Conv2d(b, c, 3, 1, 1)])
        self.dense = nn.Linear(c * 3 * 3, 128)
        self.logits = nn.Linear(128, 10)""", """
        for conv in self.convs:
            x = F.max_pool2d(F.relu(conv(x)), 2)
        x = F.relu(self.dense(torch.flatten(x, 1)))
        return self.logits(x)"""),
    "cnn_params": ("""
        cnn_num_params = ((9 + 1) * 16 + (16 * 9 + 1) * 32 + (32 * 9 + 1) * 64
                          + (64 * 9 + 1) * 128 + 129 * 10)""",),
}

STEP_BY_STEP = {
    "fc_class": ("""
        widths = [784, 512, 256, 128, 10]
        self.layers = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(widths[:-1], widths[1:]))""", """
        h = torch.flatten(x, start_dim=1)
        *hidden, last = self.layers
        for layer in hidden:
            h = layer(h).clamp(min=0)
        return last(h)"""),
    "fc_params": ("""
        fc_num_params = 0
        fc_num_params += 784 * 512 + 512
        fc_num_params += 512 * 256 + 256
        fc_num_params += 256 * 128 + 128
        fc_num_params += 128 * 10 + 10""",),
    "loss_opt": ("""
        loss_function = nn.CrossEntropyLoss(reduction="mean")
        criterion = loss_function
        opt = torch.optim.SGD(list(model_fc.parameters()), lr=1e-1, momentum=0)""",),
    "train_model": ("""
        for p in model.parameters():
            p.grad = None
        logits = model(x)
        loss = crit(logits, y)
        loss.backward()
        opt.step()""", """
        model.eval()
        scores = []
        with torch.no_grad():
            for images, targets in dl_te:
                images, targets = images.to(device), targets.to(device)
                scores.append(accuracy(model(images), targets) * len(targets))
        test_acc = sum(scores) / len(dl_te.dataset)"""),
    "lenet_class": ("""
        self.conv_a = nn.Conv2d(1, 6, (3, 3), stride=(1, 1), padding=(1, 1))
        self.pool_a = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv_b = nn.Conv2d(6, 16, (3, 3), stride=(1, 1), padding=(1, 1))
        self.pool_b = nn.MaxPool2d(kernel_size=2, stride=2)
        self.lin = nn.ModuleList([nn.Linear(16 * 49, 120), nn.Linear(120, 84), nn.Linear(84, 10)])""", """
        x = self.pool_a(nn.functional.relu(self.conv_a(x)))
        x = self.pool_b(nn.functional.relu(self.conv_b(x)))
        x = nn.Flatten()(x)
        x = nn.functional.relu(self.lin[0](x))
        x = nn.functional.relu(self.lin[1](x))
        return self.lin[2](x)"""),
    "lenet_params": ("""
        conv_a = 6 * (1 * 3 * 3) + 6
        conv_b = 16 * (6 * 3 * 3) + 16
        lenet_num_params = conv_a + conv_b + 120 * 784 + 120 + 84 * 120 + 84 + 10 * 84 + 10""",),
    "cnn_class": ("""
        self.block1 = nn.Sequential(nn.Conv2d(1, filters[0], 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(filters[0], filters[1], 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block3 = nn.Sequential(nn.Conv2d(filters[1], filters[2], 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc_hidden = nn.Linear(9 * filters[2], 128)
        self.fc_out = nn.Linear(128, 10)""", """
        z = self.block3(self.block2(self.block1(x)))
        z = z.flatten(1)
        return self.fc_out(F.relu(self.fc_hidden(z)))"""),
    "cnn_params": ("cnn_num_params = 16*9+16 + 32*16*9+32 + 64*32*9+64 + 576*128+128 + 1280+10",),
}

HONEST = {"sequential": SEQUENTIAL, "functional": FUNCTIONAL, "step_by_step": STEP_BY_STEP}


def _swap(source: str, first: str, second: str) -> str:
    """``source`` with two of its passages exchanged (functions, methods or statements moved)."""
    assert source.count(first) == 1 and source.count(second) == 1, (first, second)
    return source.replace(first, "\0").replace(second, first).replace("\0", second)


def disguised_copy(original: dict[str, str]) -> dict[str, str]:
    """The solution's answers as a copier would hand them in: every chosen name changed, methods and
    statements in another order, comments rewritten and the layout changed."""
    renames = {"fc1": "hidden_a", "fc2": "hidden_b", "fc3": "hidden_c", "fc4": "head", "conv1": "feat1",
               "conv2": "feat2", "conv3": "feat3", "pool": "shrink", "correct": "n_right", "logits": "scores",
               "x": "inp"}
    copy = {}
    for grade_id, source in original.items():
        source = re.sub(r"#(?! step 5).*", "# my own work", source)
        for old, new in renames.items():
            source = re.sub(rf"\b{old}\b", new, source)
        copy[grade_id] = source.replace(" = ", "  =  ").replace(", ", " , ")
    for grade_id in ("fc_class", "lenet_class", "cnn_class"):   # forward first, then __init__
        head, init = copy[grade_id].split("    def __init__", 1)
        init, forward = init.split("    def forward", 1)
        copy[grade_id] = f"{head}    def forward{forward.rstrip()}\n\n    def __init__{init.rstrip()}\n"
    copy["lenet_class"] = _swap(copy["lenet_class"], "self.shrink  =  nn.MaxPool2d(2)",
                                "self.hidden_c  =  nn.Linear(84 , 10)")
    return copy


def solution_answers() -> dict[str, str]:
    return answer_cells(SOLUTION)
