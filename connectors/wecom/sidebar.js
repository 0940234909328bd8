// Sales Copilot sidebar: suggestions for the current external contact, sent into the chat
// input with the WeCom JS-SDK (sendChatMessage). Untrusted text only ever goes through textContent.
(function () {
  "use strict";
  var app = document.getElementById("app");
  if (!app) { return; }
  var cfg = app.dataset;
  var state = { external: null, setId: null };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function status(text, isError) {
    var node = $("status");
    node.textContent = text;
    node.className = isError ? "status error" : "status";
  }
  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: {} };
    if (body) {
      init.headers = { "Content-Type": "application/json", "X-Requested-With": "copilot" };
      init.body = JSON.stringify(Object.assign({ external: state.external }, body));
    } else {
      path += (path.indexOf("?") < 0 ? "?" : "&") + "external=" + encodeURIComponent(state.external);
    }
    return fetch(path, init).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { throw new Error(data.error || ("HTTP " + r.status)); }
        return data;
      });
    });
  }

  function showDeal(deal) {
    var form = $("deal-form");
    ["customer", "industry", "stage", "product"].forEach(function (name) {
      if (deal && deal[name]) { form.elements[name].value = deal[name]; }
    });
  }

  function record(index, action, finalText) {
    var body = { set_id: state.setId, index: index, action: action };
    if (finalText) { body.final_text = finalText; }
    return api("POST", "/wecom/sidebar/api/action", body).then(function () {
      var list = $("list");
      Array.prototype.forEach.call(list.querySelectorAll("button"), function (b) { b.disabled = true; });
      $("dismiss").disabled = true;
      status(action === "dismissed" ? "已忽略，已记录。" : "已放入聊天输入框，已记录。");
    });
  }

  function send(index, text, action) {
    if (!window.wx) { status("请在企业微信中打开侧边栏", true); return; }
    window.wx.invoke("sendChatMessage", { msgtype: "text", enterChat: false, text: { content: text } }, function (res) {
      if (res && res.err_msg === "sendChatMessage:ok") {
        record(index, action, action === "edited" ? text : null).catch(function (e) { status(e.message, true); });
      } else {
        status("未能放入输入框：" + (res && res.err_msg), true);
      }
    });
  }

  function render(setId, suggestions, extra) {
    state.setId = setId;
    var list = $("list");
    list.textContent = "";
    suggestions.forEach(function (s, index) {
      var text = typeof s === "string" ? s : s.text;
      var li = el("li");
      var p = el("p", "text", text);
      li.appendChild(p);
      if (s.citations && s.citations.length) {
        li.appendChild(el("div", "cites", "引用：" + s.citations.join(", ") + (s.legal_basis && s.legal_basis.length ? "｜依据：" + s.legal_basis.join("、") : "")));
      }
      var row = el("div", "row");
      var sendBtn = el("button", "send", "发送");
      sendBtn.type = "button";
      sendBtn.addEventListener("click", function () { send(index, text, "sent_as_is"); });
      var editBtn = el("button", "quiet edit", "编辑");
      editBtn.type = "button";
      editBtn.addEventListener("click", function () {
        var box = el("textarea");
        box.rows = 3;
        box.value = text;
        li.replaceChild(box, p);
        editBtn.hidden = true;
        sendBtn.textContent = "发送修改版";
        sendBtn.onclick = null;
        var fresh = sendBtn.cloneNode(true);
        row.replaceChild(fresh, sendBtn);
        fresh.addEventListener("click", function () {
          var edited = box.value.trim();
          send(index, edited, edited === text ? "sent_as_is" : "edited");
        });
        box.focus();
      });
      row.appendChild(sendBtn);
      row.appendChild(editBtn);
      li.appendChild(row);
      list.appendChild(li);
    });
    $("extra").textContent = extra || "";
    $("suggestions").hidden = suggestions.length === 0;
  }

  var ROLES = { ceo: "总经理", cfo: "财务负责人", cto: "技术负责人", procurement: "采购", legal: "法务",
                it_security: "信息安全", business_owner: "业务负责人", end_user: "一线使用者" };

  function extraText(set) {
    var parts = [];
    if (set.competitor) { parts.push("竞品 " + set.competitor.name + "：" + set.competitor.response); }
    var chain = set.decision_chain || {};
    if (chain.missing_roles && chain.missing_roles.length) { parts.push("尚缺角色：" + chain.missing_roles.map(function (r) { return ROLES[r] || r; }).join("、")); }
    if (chain.next_action) { parts.push("下一步：" + chain.next_action.text); }
    (set.guidance || []).forEach(function (g) { parts.push("仅供你参考：" + g.text); });
    return parts.join("\n");
  }

  function load() {
    api("GET", "/wecom/sidebar/api/contact").then(function (view) {
      showDeal(view.deal);
      $("deal").hidden = false;
      $("ask").hidden = false;
      status(view.deal ? "" : "先设置商机，建议会更准。");
      if (view.latest && !view.latest.acted) { render(view.latest.id, view.latest.suggestions, ""); }
    }).catch(function (e) { status(e.message, true); });
  }

  $("deal-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target.elements;
    api("POST", "/wecom/sidebar/api/deal", {
      customer: f.customer.value, industry: f.industry.value, stage: f.stage.value, product: f.product.value
    }).then(function (view) { showDeal(view.deal); status("商机已保存。"); })
      .catch(function (e) { status(e.message, true); });
  });
  $("ask-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = ev.target.elements.text.value;
    status("正在生成建议…");
    api("POST", "/wecom/sidebar/api/suggest", { text: text }).then(function (view) {
      status("");
      render(view.set.id, view.set.suggestions, extraText(view.set));
    }).catch(function (e) { status(e.message, true); });
  });
  $("dismiss").addEventListener("click", function () {
    record(null, "dismissed").catch(function (e) { status(e.message, true); });
  });

  if (!window.wx || !cfg.signature) {
    status("请从企业微信聊天工具栏打开本页（JS-SDK 未就绪）。", true);
    return;
  }
  window.wx.agentConfig({
    corpid: cfg.corpid,
    agentid: cfg.agentid,
    timestamp: Number(cfg.timestamp),
    nonceStr: cfg.nonce,
    signature: cfg.signature,
    jsApiList: ["getCurExternalContact", "sendChatMessage"],
    success: function () {
      window.wx.invoke("getCurExternalContact", {}, function (res) {
        if (res && res.err_msg === "getCurExternalContact:ok") {
          state.external = res.userId;
          load();
        } else {
          status("无法读取当前客户：" + (res && res.err_msg), true);
        }
      });
    },
    fail: function (res) { status("JS-SDK 授权失败：" + ((res && (res.errMsg || res.err_msg)) || ""), true); }
  });
})();
